package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"time"
)

// RelayProcess is a relay floor running as its own process, so that its CPU
// time and memory can be read from /proc like the server's.
type RelayProcess struct {
	PID  int
	URL  string
	cmd  *exec.Cmd
	done chan error
}

var relayReady = regexp.MustCompile(`relay ready addr=\S+ url=(\S+) pid=(\d+)`)

// StartRelayProcess runs "exe bench relay --addr 127.0.0.1:0" (exe is this
// program: os.Executable) and waits (at most 10 s) for its ready line. The
// relay's stderr goes to stderr. Stop it with Stop.
func StartRelayProcess(ctx context.Context, exe string, stderr io.Writer) (*RelayProcess, error) {
	cmd := exec.Command(exe, "bench", "relay", "--addr", "127.0.0.1:0")
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting the relay floor: %w", err)
	}
	p := &RelayProcess{PID: cmd.Process.Pid, cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		// Read the ready line, then drain stdout until the process ends.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		p.done <- cmd.Wait()
	}()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case l := <-lines:
			if m := relayReady.FindStringSubmatch(l); m != nil {
				p.URL = m[1]
				if _, err := CheckURL(p.URL); err != nil {
					p.Stop()
					return nil, err
				}
				return p, nil
			}
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("bench: the relay floor exited before it was ready: %v", err)
		case <-timer.C:
			p.Stop()
			return nil, fmt.Errorf("bench: the relay floor did not get ready within 10 s")
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		}
	}
}

// Stop interrupts the relay process and waits for it (killing it after 5 s).
func (p *RelayProcess) Stop() error {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		return fmt.Errorf("bench: the relay floor did not stop within 5 s: killed")
	}
}
