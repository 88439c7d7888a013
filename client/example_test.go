package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/switchboardhq/switchboard/client"
	"github.com/switchboardhq/switchboard/protocol"
	"github.com/switchboardhq/switchboard/seal"
)

// A subscriber and a publisher in the same session. The examples need a
// running server, so they are compiled but not run.
func Example() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{
		Name:      "dashboard",
		SessionID: "user-session-123",
		OnState:   func(s client.State) { log.Println("switchboard:", s) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Subscribe(ctx, "orders.*", func(m *client.Message) {
		var order struct{ ID string }
		if err := m.Decode(&order); err == nil {
			fmt.Println(m.Topic, order.ID, "from", m.PublisherName)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	seq, err := c.Publish(ctx, "orders.eu", map[string]string{"ID": "42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("published as seq", seq)
}

// Dial with the options a backend service typically sets.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "wss://switchboard.example.com/ws", client.Options{
		Name:       "billing",
		SessionID:  "tenant-7",
		Token:      "…",
		Header:     map[string][]string{"X-Request-Source": {"billing"}}, // native only
		MaxBackoff: 30 * time.Second,
		Outage:     client.OutageFail, // fail fast instead of buffering
		OnError:    func(err error) { log.Println(err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	<-c.Done() // until Close or a terminal close by the server
	log.Println("stopped:", c.Err())
}

// Several nodes of one deployment: Dial tries them in order, and a lost
// connection fails over to the next, with backoff per round over the list.
// Shuffle the list to spread clients over the nodes.
func ExampleDial_failover() {
	ctx := context.Background()
	nodes := []string{"wss://a.switchboard.example.com/ws", "wss://b.switchboard.example.com/ws"}
	rand.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	c, err := client.Dial(ctx, "", client.Options{Name: "billing", URLs: nodes})
	if err != nil {
		log.Fatal(err) // every URL failed; the error lists each
	}
	defer c.Close()
	fmt.Println("connected to", c.URL()) // after a failover, another node
}

// A service answers requests; a caller waits for the first answer.
func ExampleClient_Request() {
	ctx := context.Background()
	svc, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{Name: "prices", SessionID: "s"})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	_, err = svc.Subscribe(ctx, "prices.get", func(m *client.Message) {
		_ = m.Respond(map[string]float64{"eur": 1.08})
	})
	if err != nil {
		log.Fatal(err)
	}

	caller, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{Name: "shop", SessionID: "s"})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second) // sent as timeout_ms
	defer cancel()
	resp, err := caller.Request(rctx, "prices.get", nil)
	switch {
	case errors.Is(err, &protocol.Error{Code: protocol.CodeNoResponders}):
		fmt.Println("no price service running")
	case errors.Is(err, &protocol.Error{Code: protocol.CodeTimeout}):
		fmt.Println("price service too slow")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(string(resp.Payload), "from", resp.PublisherName)
	}
}

// Messages sent to this client directly, and broadcasts, arrive at the
// handler of their topic if there is one, else at the default handler.
func ExampleClient_Send() {
	ctx := context.Background()
	b, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{
		Name:           "b",
		SessionID:      "s",
		DefaultHandler: func(m *client.Message) { fmt.Println(m.Topic, "from", m.From) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	a, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{Name: "a", SessionID: "s"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.Send(ctx, b.ClientID(), "notice", "hello b"); err != nil {
		log.Fatal(err) // not_found if b left
	}
}

// The first client of a session creates its shared metadata; the others
// lose the race with a conflict and read the winner's value instead.
func ExampleClient_PublishIfSeq() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{Name: "n", SessionID: "s"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.PublishIfSeq(ctx, protocol.TopicE2E, 0, map[string]string{"salt": "…"})
	if errors.Is(err, &protocol.Error{Code: protocol.CodeConflict}) {
		_, err = c.Subscribe(ctx, protocol.TopicE2E, func(m *client.Message) {
			fmt.Println("session parameters:", string(m.Payload))
		})
	}
	if err != nil {
		log.Fatal(err)
	}
}

// The original framework's shape.
func ExampleConnect() {
	c, err := client.Connect("Client1", "ws://localhost:8080/ws")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SubscribeTopic("NetworkConnectedEvent"); err != nil {
		log.Fatal(err)
	}
	c.OnMessage("NetworkConnectedEvent", func(m *client.Message) {
		fmt.Println(m.PublisherName, string(m.Payload))
	})
	if err := c.PublishWithTimestamp("NetworkConnectedEvent", "Network connected", time.Now()); err != nil {
		log.Fatal(err)
	}
}

// End-to-end encryption: the server routes ciphertext it cannot read.
// Handlers get the opened payload; a payload that fails to open (moved,
// relabelled, edited, replayed, from a key that changed) reaches OnError
// instead, never a handler.
func ExampleE2E() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://localhost:8080/ws", client.Options{
		Name:      "alice",
		SessionID: "room-7",
		E2E: &client.E2E{
			Passphrase: "correct horse battery staple", // or Secret: an invite link's #fragment
			Signed:     true,                           // if alice creates the session's parameters
		},
		OnError: func(err error) {
			var oe *client.OpenError
			switch {
			case errors.Is(err, seal.ErrKeyChanged):
				log.Println("a member's key changed, ask the user:", err)
			case errors.As(err, &oe):
				log.Println("dropped a message from", oe.PublisherName, "on", oe.Topic, ":", oe.Err)
			default:
				log.Println(err)
			}
		},
	})
	if errors.Is(err, seal.ErrWrongKey) {
		log.Fatal("wrong passphrase")
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Subscribe(ctx, "chat", func(m *client.Message) {
		fmt.Println(m.PublisherName, string(m.Payload), "encrypted:", m.Encrypted)
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Publish(ctx, "chat", "hello, only members can read this"); err != nil {
		log.Fatal(err)
	}
	p, _ := c.E2EParams()
	fmt.Println("epoch", p.Epoch, "signed", p.Signed)
}

// An invite link carries a random secret in its #fragment, which browsers
// never send to the server: joining with it skips Argon2id.
func ExampleE2E_inviteLink() {
	secret, err := seal.NewSecret()
	if err != nil {
		log.Fatal(err)
	}
	link := "https://chat.example.com/room-7#" + secret
	fmt.Println("invite:", link)

	// The invitee, having cut the fragment from the link:
	c, err := client.Dial(context.Background(), "wss://chat.example.com/ws", client.Options{
		Name:      "bob",
		SessionID: "room-7",
		E2E:       &client.E2E{Secret: secret},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
