package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// maxHeaderSection bounds the header section read from --data into memory
// (the body behind it is streamed).
const maxHeaderSection = 1 << 20

// errHeaderTooLarge is returned when --data has no blank line within
// maxHeaderSection bytes.
var errHeaderTooLarge = errors.New("header section too large")

// field is one header field as lines without their CRLF: the first line
// and its folded continuation lines.
type field struct {
	name  string // the name before ':', "" for a malformed line
	lines []string
}

// userLineSplit splits a --header/--add-header argument into lines the way
// swaks does (`\n`), and also at %NEWLINE%, which swaks would expand into a
// line break later: splitting first means every line gets validated.
var userLineSplit = regexp.MustCompile(`\\n|%NEWLINE%|\.\.NEWLINE\.\.`)

// forbiddenInHeader are tokens whose value could carry line breaks into a
// header (the body) or that have no meaning inside one.
var forbiddenInHeader = regexp.MustCompile(`%(BODY|NEW_HEADERS)%|\.\.(BODY|NEW_HEADERS)\.\.`)

// ValidateHeader checks a --header or --add-header argument: "Name: value",
// the name printable ASCII without ':' or space, no CR, LF or NUL anywhere.
// As in swaks, the two characters `\n` (or %NEWLINE%) separate several
// header lines in one argument; a line starting with a space or tab folds
// into the previous header. %BODY% and %NEW_HEADERS% are refused because
// they would insert line breaks. Errors name the header.
func ValidateHeader(h string) error {
	_, err := parseUserHeader(h)
	return err
}

// parseUserHeader validates a --header/--add-header argument and returns
// its fields.
func parseUserHeader(h string) ([]field, error) {
	label := headerLabel(h)
	if i := strings.IndexAny(h, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("header %s: contains a CR or LF character at byte %d (header injection is not allowed; write \\n to start another header line)", label, i)
	}
	if i := strings.IndexByte(h, 0); i >= 0 {
		return nil, fmt.Errorf("header %s: contains a NUL byte at byte %d", label, i)
	}
	if m := forbiddenInHeader.FindString(h); m != "" {
		return nil, fmt.Errorf("header %s: the %s token is not allowed in a header", label, m)
	}
	var fields []field
	for _, line := range userLineSplit.Split(h, -1) {
		switch {
		case strings.TrimLeft(line, " \t") == "":
			// An empty line would end the header section: drop it, as a
			// trailing `\n` is a common way to write a header argument.
			continue
		case line[0] == ' ' || line[0] == '\t':
			if len(fields) == 0 {
				return nil, fmt.Errorf("header %s: starts with a folded (indented) line", label)
			}
			last := &fields[len(fields)-1]
			last.lines = append(last.lines, line)
		default:
			name, err := checkHeaderLine(line)
			if err != nil {
				return nil, err
			}
			fields = append(fields, field{name: name, lines: []string{line}})
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("header %s: empty", label)
	}
	return fields, nil
}

// checkHeaderLine checks one "Name: value" line and returns the name.
func checkHeaderLine(line string) (string, error) {
	i := strings.IndexByte(line, ':')
	if i < 0 {
		return "", fmt.Errorf("header %s: no ':' after the field name (want \"Name: value\")", headerLabel(line))
	}
	name := line[:i]
	if name == "" {
		return "", fmt.Errorf("header %q: empty field name", line)
	}
	for k := 0; k < len(name); k++ {
		if c := name[k]; c < '!' || c > '~' {
			return "", fmt.Errorf("header %s: the field name contains %q (only printable ASCII without spaces is allowed)", headerLabel(line), c)
		}
	}
	return name, nil
}

// headerLabel names a header in an error: its field name when it has a
// sensible one, else the quoted start of the argument.
func headerLabel(h string) string {
	if i := strings.IndexByte(h, ':'); i > 0 && i <= 76 && !strings.ContainsAny(h[:i], " \t\r\n\x00") {
		return fmt.Sprintf("%q", h[:i])
	}
	if len(h) > 40 {
		h = h[:40] + "..."
	}
	return fmt.Sprintf("%q", h)
}

// parseFields groups raw header lines into fields. As swaks does, any line
// is accepted (we are a test tool): one without a colon is kept as is.
func parseFields(lines []string) []field {
	var fields []field
	for _, l := range lines {
		if len(fields) > 0 && l != "" && (l[0] == ' ' || l[0] == '\t') {
			last := &fields[len(fields)-1]
			last.lines = append(last.lines, l)
			continue
		}
		f := field{lines: []string{l}}
		if i := strings.IndexByte(l, ':'); i > 0 {
			f.name = strings.TrimRight(l[:i], " \t")
		}
		fields = append(fields, f)
	}
	return fields
}

// newHeadersToken matches the %NEW_HEADERS% token in either form.
var newHeadersToken = regexp.MustCompile(`%NEW_HEADERS%|\.\.NEW_HEADERS\.\.`)

// editHeader applies --header and --add-header to fields, as swaks does: a
// --header replaces the last field of the same name (matched without
// regard to case, unlike swaks) or, when there is none, is added after the
// --add-header fields. Added fields go where %NEW_HEADERS% is, else at the
// end.
func editHeader(fields []field, headers, addHeaders []string) ([]field, error) {
	var added []field
	for _, h := range addHeaders {
		fs, err := parseUserHeader(h)
		if err != nil {
			return nil, fmt.Errorf("--add-header: %w", err)
		}
		added = append(added, fs...)
	}
	var replacing []field
	for _, h := range headers {
		fs, err := parseUserHeader(h)
		if err != nil {
			return nil, fmt.Errorf("--header: %w", err)
		}
		for _, f := range fs {
			if i := lastField(fields, f.name); i >= 0 {
				fields[i] = f
			} else if i := lastField(replacing, f.name); i >= 0 {
				// A later --header for a name an earlier one added
				// replaces it rather than adding a second copy.
				replacing[i] = f
			} else {
				replacing = append(replacing, f)
			}
		}
	}
	added = append(added, replacing...)

	var out []field
	placed := false
	for _, f := range fields {
		if !fieldHasToken(f) {
			out = append(out, f)
			continue
		}
		placed = true
		if len(f.lines) == 1 && newHeadersToken.MatchString(f.lines[0]) &&
			newHeadersToken.ReplaceAllString(f.lines[0], "") == "" {
			// A line that is only the token becomes the added fields.
			out = append(out, added...)
			continue
		}
		var lines []string
		for _, f := range added {
			lines = append(lines, f.lines...)
		}
		joined := strings.Join(lines, "\r\n")
		g := field{name: f.name}
		for _, l := range f.lines {
			g.lines = append(g.lines, newHeadersToken.ReplaceAllLiteralString(l, joined))
		}
		out = append(out, g)
	}
	if !placed {
		out = append(out, added...)
	}
	return out, nil
}

func fieldHasToken(f field) bool {
	for _, l := range f.lines {
		if newHeadersToken.MatchString(l) {
			return true
		}
	}
	return false
}

func lastField(fields []field, name string) int {
	if name == "" {
		return -1
	}
	for i := len(fields) - 1; i >= 0; i-- {
		if strings.EqualFold(fields[i].name, name) {
			return i
		}
	}
	return -1
}

// writeHeader serialises fields with CRLF line endings. Unless keepFrom, a
// leading mbox "From " line is dropped (swaks strips it from the data).
func writeHeader(fields []field, keepFrom bool) []byte {
	var buf bytes.Buffer
	for i, f := range fields {
		for j, l := range f.lines {
			if i == 0 && j == 0 && !keepFrom && strings.HasPrefix(l, "From ") {
				continue
			}
			buf.WriteString(l)
			buf.WriteString("\r\n")
		}
	}
	return buf.Bytes()
}

// readHeaderSection reads lines from r up to the blank line that ends the
// header section. Like swaks (which cuts the data at the first two
// consecutive line breaks), the first line always belongs to the header,
// even when empty. It returns the header lines and whether the blank line
// was found; at EOF without one, all the data was header. raw holds every
// byte consumed, for callers that fall back to sending the data unedited.
func readHeaderSection(r *bufio.Reader, limit int) (lines []string, raw []byte, err error) {
	var cur []byte
	for {
		chunk, err := r.ReadSlice('\n')
		raw = append(raw, chunk...)
		if len(raw) > limit {
			return nil, raw, errHeaderTooLarge
		}
		cur = append(cur, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, raw, err
		}
		if len(cur) > 0 {
			line := strings.TrimSuffix(strings.TrimSuffix(string(cur), "\n"), "\r")
			ended := cur[len(cur)-1] == '\n'
			if line == "" && ended && len(lines) > 0 {
				return lines, raw, nil
			}
			lines = append(lines, line)
		}
		cur = cur[:0]
		if err == io.EOF {
			return lines, raw, nil
		}
	}
}
