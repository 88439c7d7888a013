package protocol

import (
	"reflect"
	"testing"
)

// fastSeeds are the objects the fast path is for, and near misses that must
// fall back to encoding/json.
var fastSeeds = []string{
	`{"type":"hello","protocol":1,"name":"sub-1","session_id":"bench"}`,
	`{"type":"subscribe","id":"s0","topic":"t0"}`,
	`{"type":"hello","id":"h","name":"a","session_id":"s","token":"x.y.z","protocol":1,"echo":false,"instance":"i-1"}`,
	`{"type":"subscribe","id":"1","topic":"a.>","presence":true,"all_sessions":false}`,
	`{"type":"unsubscribe","id":"2","topic":"a.*"}`,
	`{"type":"ping"}`,
	` { "type" : "ping" , "id" : "p" } `,
	`{"type":"send","to":"c1","reply_to":"r","timestamp":"2024-01-01T00:00:00Z"}`,
	`{}`,
	`{"type":""}`,
	`{"type":"hello","protocol":01}`,
	`{"type":"hello","protocol":1.0}`,
	`{"type":"hello","protocol":-1}`,
	`{"type":"hello","protocol":1e0}`,
	`{"type":"hello","protocol":9999999999999999999999}`,
	`{"type":"hello","echo":null}`,
	`{"type":"hello","echo":"true"}`,
	`{"type":"hello","echo":truex}`,
	`{"type":"hello","Name":"a"}`,
	`{"TYPE":"hello"}`,
	`{"type":"hello","name":"a","name":"b"}`,
	`{"type":"hello","echo":true,"echo":false}`,
	`{"type":"hello","name":"\u00e9"}`,
	"{\"type\":\"hello\",\"name\":\"\xff\"}",
	"{\"type\":\"hello\",\"name\":\"a\tb\"}",
	`{"type":"subscribe","topic":"a",}`,
	`{"type":"subscribe","topic":"a"}x`,
	`{"type":"subscribe","topic":"a"}}`,
	`{"type":"subscribe" "topic":"a"}`,
	`{"type":"subscribe","topic":1}`,
	`{"type":"publish","topic":"t","payload":{"x":1}}`,
	`{"type":"subscribe","id":"1","topic":"t","since":{"seq":1,"epoch":"e"}}`,
	`{"type":"hello","id":7}`,
	`{"type":"hello","unknown":[1,2]}`,
	`[]`,
	``,
	`{`,
	`{"type":"hello"`,
	`{"type":"hello",`,
	`{"type`,
	`{"type":"hello","protocol":1`,
	`{"type":"hello","echo":tru`,
}

func TestDecodeFastTakesCommonObjects(t *testing.T) {
	for _, s := range fastSeeds[:8] {
		var f Frame
		if !decodeFast([]byte(s), &f) {
			t.Errorf("fast path not taken for %s", s)
		}
	}
	for _, s := range fastSeeds {
		checkDecodeFast(t, []byte(s))
	}
}

// FuzzDecodeFast checks that Decode (fast path first) and decodeJSON
// (encoding/json only) agree on every input: same frame, same error.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeFast(t, data)
	})
}

func checkDecodeFast(t *testing.T, obj []byte) {
	t.Helper()
	var got, want Frame
	gerr := Decode(obj, &got)
	werr := decodeJSON(obj, &want)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%q: Decode error %v, encoding/json %v", obj, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Decode gives %+v, encoding/json %+v", obj, got, want)
	}
}

// BenchmarkDecodeHello compares Decode (fast path) with encoding/json on
// the hello and subscribe objects every client sends.
func BenchmarkDecodeHello(b *testing.B) {
	objs := [][]byte{[]byte(fastSeeds[0]), []byte(fastSeeds[1])}
	for _, bc := range []struct {
		name   string
		decode func([]byte, *Frame) error
	}{{"fast", Decode}, {"encoding-json", decodeJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var f Frame
			for b.Loop() {
				for _, o := range objs {
					if err := bc.decode(o, &f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
