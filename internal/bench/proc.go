package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ClockTicks is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which is 100 on every Linux architecture Go supports (getconf CLK_TCK).
const ClockTicks = 100

// ErrProc reports that a process's /proc entries could not be read or parsed.
var ErrProc = errors.New("bench: reading /proc")

// ProcSample is a process's CPU time and resident memory at one moment.
type ProcSample struct {
	At  time.Time
	CPU time.Duration // user + system, at ClockTicks resolution
	RSS int64         // bytes (VmRSS)
}

// ReadProc samples process pid from /proc.
func ReadProc(pid int) (ProcSample, error) { return readProcFrom("/proc", pid) }

func readProcFrom(root string, pid int) (ProcSample, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	at := time.Now()
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return ProcSample{}, fmt.Errorf("%w: %v", ErrProc, err)
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return ProcSample{}, fmt.Errorf("%w: %v", ErrProc, err)
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		return ProcSample{}, err
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{At: at, CPU: time.Duration(ticks) * time.Second / ClockTicks, RSS: rss}, nil
}

// parseStatCPU returns utime + stime (fields 14 and 15 of proc(5)'s stat) in
// clock ticks. The command name (field 2) may hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat: no command name", ErrProc)
	}
	fields := bytes.Fields(stat[i+1:]) // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return 0, fmt.Errorf("%w: stat: %d fields after the command name", ErrProc, len(fields))
	}
	utime, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: stat: %v", ErrProc, err)
	}
	return utime + stime, nil
}

// parseStatusRSS returns VmRSS from /proc/PID/status in bytes.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: status: VmRSS line %q", ErrProc, bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: status: %v", ErrProc, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: status: no VmRSS (a kernel thread or a zombie?)", ErrProc)
}

// ReadMachineBusy returns the CPU time all CPUs spent busy since boot
// (user, nice, system, irq, softirq, steal from /proc/stat's first line).
func ReadMachineBusy() (time.Duration, error) { return readMachineBusyFrom("/proc/stat") }

func readMachineBusyFrom(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrProc, err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("%w: /proc/stat: first line %q", ErrProc, line)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/stat: %v", ErrProc, err)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / ClockTicks, nil
}
