package probe

import (
	"fmt"
	"strings"

	"github.com/smtpprobe/smtpprobe/compose"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/smtpclient"
)

// validate checks user input before anything reaches the wire: CR, LF or
// other control bytes in an address, EHLO name or header would let a user
// (or a script feeding the probe) inject SMTP commands or headers.
func validate(o *Options) error {
	if len(o.To) == 0 {
		return usage("no recipient: give --to ADDRESS")
	}
	for _, t := range o.To {
		if err := checkAddress(t, false); err != nil {
			return usage("--to %q: %v", t, err)
		}
	}
	if err := checkAddress(o.From, true); err != nil {
		return usage("--from %q: %v", o.From, err)
	}
	if o.EHLO != "" {
		if err := checkEHLO(o.EHLO); err != nil {
			return usage("--ehlo %q: %v", o.EHLO, err)
		}
	}
	for _, h := range append(append([]string(nil), o.Message.Headers...), o.Message.AddHeaders...) {
		if err := compose.ValidateHeader(h); err != nil {
			return usage("--header %q: %v", h, err)
		}
	}
	if o.Auth && o.AuthUser == "" {
		return usage("--auth needs a user name: give --auth-user")
	}
	for _, m := range o.AuthMechs {
		if !smtpclient.SupportedMech(m) {
			return usage("--auth %s: not a supported mechanism (supported: PLAIN, LOGIN, CRAM-MD5)", m)
		}
	}
	if o.RoutingDomain != "" {
		if _, err := mxlookup.ToASCII(o.RoutingDomain); err != nil {
			return usage("--copy-routing %q: %v", o.RoutingDomain, err)
		}
	}
	switch o.Protocol {
	case "", "esmtp", "smtp", "lmtp":
	default:
		return usage("protocol %q: want smtp, esmtp or lmtp", o.Protocol)
	}
	if o.LocalInterface != "" {
		if _, err := smtpclient.ParseLocalAddr(o.LocalInterface); err != nil {
			return usage("--local-interface %q: %v", o.LocalInterface, err)
		}
	}
	if o.Timeout < 0 || o.SessionTimeout < 0 {
		return usage("timeouts must not be negative")
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkAddress is ValidAddress; allowNull admits the null reverse-path "".
func checkAddress(a string, allowNull bool) error {
	if a == "" && allowNull {
		return nil
	}
	return ValidAddress(a)
}

func checkEHLO(name string) error {
	if hasControl(name) || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("contains whitespace or control characters")
	}
	if len(name) > 255 {
		return fmt.Errorf("longer than 255 characters")
	}
	return nil
}
