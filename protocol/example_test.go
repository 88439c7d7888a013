package protocol_test

import (
	"fmt"
	"strings"

	"github.com/switchboardhq/switchboard/protocol"
)

// A server reads a frame of newline-delimited objects and answers each.
func ExampleSplit() {
	frame := []byte("{\"type\":\"ping\",\"id\":\"1\"}\n{\"type\":\"publish\",\"topic\":\"chat.room1\",\"payload\":\"hi\"}")
	_ = protocol.Split(frame, func(obj []byte) error {
		var f protocol.Frame
		if err := protocol.Decode(obj, &f); err != nil {
			fmt.Println(string(protocol.AppendError(nil, f.ID, protocol.CodeBadRequest, err.Error())))
			return nil
		}
		fmt.Println(strings.TrimSpace(fmt.Sprint(f.Type, " ", f.Topic, " ", string(f.Payload))))
		return nil
	})
	// Output:
	// ping
	// publish chat.room1 "hi"
}

func ExampleMatch() {
	fmt.Println(protocol.Match("orders.*.created", "orders.eu.created"))
	fmt.Println(protocol.Match("orders.>", "orders.eu.created"))
	fmt.Println(protocol.Match(">", "$meta.e2e"))
	// Output:
	// true
	// true
	// false
}
