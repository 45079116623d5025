// Package schematest compiles the published JSON Schemas of the probe's
// output (the session JSON, transcript/session.schema.json, and the
// relay-check JSON, which refers to it) for tests that validate real
// output. Only tests import it, so the validator never reaches the binary.
package schematest

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/smtpprobe/smtpprobe/relaycheck"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// Compile compiles both schemas with format assertion on.
func Compile(t testing.TB) (session, relayCheck *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, b := range map[string][]byte{transcript.SessionSchemaURL: transcript.SessionSchema(), relaycheck.SchemaURL: relaycheck.Schema()} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if session, err = c.Compile(transcript.SessionSchemaURL); err != nil {
		t.Fatalf("session schema: %v", err)
	}
	if relayCheck, err = c.Compile(relaycheck.SchemaURL); err != nil {
		t.Fatalf("relay-check schema: %v", err)
	}
	return session, relayCheck
}
