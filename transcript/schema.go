package transcript

import _ "embed"

//go:embed session.schema.json
var sessionSchema []byte

// SessionSchemaURL is the $id of the session JSON's schema: the address of
// transcript/session.schema.json in the repository.
const SessionSchemaURL = "https://github.com/smtpprobe/smtpprobe/raw/main/transcript/session.schema.json"

// SessionSchema returns the JSON Schema (draft 2020-12) of the session JSON
// that WriteJSON writes (DESIGN.md, "Session JSON" and "Additions"), as
// `probe --json-schema` prints it. The caller gets its own copy.
func SessionSchema() []byte {
	return append([]byte(nil), sessionSchema...)
}
