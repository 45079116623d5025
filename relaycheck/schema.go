package relaycheck

import _ "embed"

//go:embed relaycheck.schema.json
var schema []byte

// SchemaURL is the $id of the relay-check JSON's schema: the address of
// relaycheck/relaycheck.schema.json in the repository. The schema refers
// to the session JSON's (transcript.SessionSchemaURL) for the sessions it
// embeds.
const SchemaURL = "https://github.com/smtpprobe/smtpprobe/raw/main/relaycheck/relaycheck.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the report WriteJSON
// writes. The caller gets its own copy.
func Schema() []byte {
	return append([]byte(nil), schema...)
}
