package smtpclient

import (
	"crypto/x509"
	"errors"
)

// RFC 8460 §4.3 result types for the TLS failures a session can see. The
// names are the ones TLS-RPT reports and the big receivers' bounces use, so
// an admin can match the probe's finding against their reports.
const (
	ResultStartTLSNotSupported    = "starttls-not-supported"
	ResultCertificateHostMismatch = "certificate-host-mismatch"
	ResultCertificateExpired      = "certificate-expired"
	ResultCertificateNotTrusted   = "certificate-not-trusted"
	ResultValidationFailure       = "validation-failure"
)

// TLSResultType names a TLS failure the RFC 8460 way: the certificate
// problems by their own names, anything else that broke the handshake
// (protocol alerts, no shared cipher, a server that closed the connection)
// as validation-failure, the catch-all of §4.3.2.
func TLSResultType(err error) string {
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &hostErr):
		return ResultCertificateHostMismatch
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		// crypto/x509 gives the reason Expired to a certificate that is
		// not valid yet too ("current time ... is before ..."): RFC 8460
		// has no other name for it, and verify_summary tells them apart.
		return ResultCertificateExpired
	case errors.As(err, &unknown):
		return ResultCertificateNotTrusted
	case errors.As(err, &invalid) && (invalid.Reason == x509.NotAuthorizedToSign || invalid.Reason == x509.CANotAuthorizedForThisName || invalid.Reason == x509.TooManyIntermediates):
		return ResultCertificateNotTrusted
	}
	return ResultValidationFailure
}
