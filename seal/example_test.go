package seal_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/switchboardhq/switchboard/seal"
)

// The first member of a session creates the parameters from a passphrase and
// publishes them on $meta.e2e (with if_seq 0); a second member reads them,
// derives the same root and opens what the first one sealed.
func Example() {
	const sessionID, passphrase = "user-session-123", "correct horse battery staple"

	// Member 1: fresh parameters (random salt, default Argon2id cost).
	params, err := seal.NewParams(false)
	if err != nil {
		log.Fatal(err)
	}
	root, err := seal.DeriveRoot(passphrase, params)
	if err != nil {
		log.Fatal(err)
	}
	if err := params.SetKeyCheck(root, sessionID); err != nil {
		log.Fatal(err)
	}
	meta, _ := json.Marshal(params) // publish as the retained value of seal.ParamsTopic
	alice, err := seal.NewSession(sessionID, root, params, nil)
	if err != nil {
		log.Fatal(err)
	}
	payload, err := alice.Seal("chat.room-1", "alice", []byte(`{"text":"hello"}`))
	if err != nil {
		log.Fatal(err)
	}

	// Member 2: reads the parameters from $meta.e2e and asks for the passphrase.
	var got seal.Params
	if err := json.Unmarshal(meta, &got); err != nil {
		log.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		log.Fatal(err) // malformed, or weaker than the floor
	}
	wrong, err := seal.DeriveRoot("wrong passphrase", got)
	if err != nil {
		log.Fatal(err)
	}
	_, err = seal.NewSession(sessionID, wrong, got, nil)
	fmt.Println("wrong passphrase:", errors.Is(err, seal.ErrWrongKey))

	root2, err := seal.DeriveRoot(passphrase, got)
	if err != nil {
		log.Fatal(err)
	}
	bob, err := seal.NewSession(sessionID, root2, got, nil)
	if err != nil {
		log.Fatal(err)
	}
	// topic and publisher_name come from the delivered message.
	plaintext, err := bob.Open("chat.room-1", "alice", payload)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(seal.IsSealed(payload), string(plaintext))

	_, err = bob.Open("chat.room-1", "alice", payload)
	fmt.Println("second delivery:", errors.Is(err, seal.ErrReplay))
	// Output:
	// wrong passphrase: true
	// true {"text":"hello"}
	// second delivery: true
}

// In signed mode every client instance has an Identity; receivers pin each
// sender's key from its announcement on $meta.e2e.keys.<key id>.
func Example_signed() {
	const sessionID = "user-session-123"
	secret, _ := seal.NewSecret() // shared in an invite link's #fragment
	root, err := seal.ParseSecret(secret)
	if err != nil {
		log.Fatal(err)
	}
	params := seal.NewSecretParams(true)
	if err := params.SetKeyCheck(root, sessionID); err != nil {
		log.Fatal(err)
	}

	aliceID, _ := seal.NewIdentity()
	ann, _ := seal.NewAnnouncement(aliceID, sessionID, "alice")
	annJSON, _ := json.Marshal(ann) // publish on seal.KeysTopic(aliceID.KeyID())
	alice, err := seal.NewSession(sessionID, root, params, aliceID)
	if err != nil {
		log.Fatal(err)
	}
	payload, _ := alice.Seal("chat.room-1", "alice", []byte("hi"))

	bobID, _ := seal.NewIdentity()
	bob, err := seal.NewSession(sessionID, root, params, bobID)
	if err != nil {
		log.Fatal(err)
	}
	_, err = bob.Open("chat.room-1", "alice", payload)
	fmt.Println("unknown sender:", errors.Is(err, seal.ErrUnknownSender))

	// Fetch the announcement of the envelope's key id, verify it for the
	// name the message came from, pin it, open again.
	h, _ := seal.Inspect(payload)
	fmt.Println("fetch", seal.KeysTopic(h.KeyID) == seal.KeysTopic(aliceID.KeyID()))
	var got seal.Announcement
	_ = json.Unmarshal(annJSON, &got)
	pub, err := seal.VerifyAnnouncement(got, sessionID, "alice")
	if err != nil || seal.KeyIDOf(pub) != h.KeyID {
		log.Fatal("bad announcement")
	}
	if err := bob.KeyRing().Pin("alice", pub); err != nil {
		log.Fatal(err) // errors.Is(err, seal.ErrKeyChanged): alice's key changed
	}
	plaintext, err := bob.Open("chat.room-1", "alice", payload)
	fmt.Println(string(plaintext), err)
	// Output:
	// unknown sender: true
	// fetch true
	// hi <nil>
}
