#!/usr/bin/perl
# Differential oracle for swaksargs (used by TestAgainstSwaks when
# SWAKS_SCRIPT names a copy of the swaks script and perl is installed).
#
# It loads swaks's own option table and option parser (get_option_struct,
# fetch_args, store_option, process_opt_silent) from the script, runs them
# over each input line (a JSON array of arguments) and prints one JSON object
# per line: {"opts": {canonical-name: [values...]}} or {"err": "..."}.
# A Required value that swaks would prompt for is shown as PROMPTED(name),
# the answer the Go test's prompt function gives.
use strict;
use warnings;
use JSON::PP;

my $script = $ENV{SWAKS_SCRIPT} or die "SWAKS_SCRIPT not set\n";
open(my $fh, '<', $script) or die "cannot open $script: $!\n";
my $src = do { local $/; <$fh> };
close($fh);

my $code = '';
for my $name (qw(process_opt_silent get_option_struct fetch_args store_option)) {
	$src =~ /^(sub \Q$name\E \{.*?^\})/ms or die "sub $name not found in $script\n";
	$code .= "$1\n";
}
$code =~ s/GetOptionsFromArray\(\$argv_local, %options\) \|\| exit\(1\);/GetOptionsFromArray(\$argv_local, %options) || die "GETOPT\\n";/
	or die "cannot patch fetch_args\n";

{
	no strict;
	no warnings;
	sub ptrans { die "PTRANS $_[1]\n" }
	sub deprecate { }
	sub load { eval "require $_[0]"; return !$@ }
	eval $code;
	die $@ if $@;
}

my $json = JSON::PP->new->canonical;
my $opts = get_option_struct();
my %cfg  = map { $_->{okey} => $_ } @$opts;
while (my $line = <STDIN>) {
	my @argv = @{ $json->decode($line) };
	my (%args, @warnings, %out, $err);
	local $SIG{__WARN__} = sub { push @warnings, $_[0] };
	if (!eval { fetch_args(\%args, $opts, \@argv); 1 }) {
		$err = 'getopt: ' . join('', @warnings, $@);
		$err =~ s/\n/ /g;
	}
	else {
		for my $okey (sort keys %{ $args{values} || {} }) {
			my $c    = $cfg{$okey};
			my $vals = $args{values}{$okey};
			next unless @$vals;
			my @v;
			for my $e (@$vals) {
				my $arg = $e->{arg};
				if ($c->{cfgs} & 0x04) {          # OP_ARG_NONE
					$arg = '';
				}
				elsif (($c->{cfgs} & 0x02) && !length($arg)) {    # OP_ARG_REQ, no value
					if ($c->{cfgs} & 0x08) { $arg = "PROMPTED($c->{opts}[0])" }    # OP_FROM_PROMPT
					else { $err = "missing: $c->{opts}[0]" }
				}
				push @v, "$arg";
			}
			$out{ $c->{opts}[0] } = \@v;
		}
		$err = 'leftover: ' . join(' ', @argv) if @argv;
	}
	print $json->encode($err ? { err => $err } : { opts => \%out }), "\n";
}
