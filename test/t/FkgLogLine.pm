# Reading fk_guard's log lines back, for the cluster tests: finds the lines the
# server wrote (a log_line_prefix timestamp first, so that text inside another
# line cannot pass for one) and parses the text format's name=value fields.
package FkgLogLine;
use strict;
use warnings;
use Encode ();
use Exporter 'import';
use JSON::PP;

our @EXPORT = qw(fk_guard_messages parse_text_line decode_value decode_json_line);

# The fk_guard violation messages (text or JSON) of log text, one per line
# the server wrote: "<timestamp> [pid] [anything ]LOG:  <message>".
sub fk_guard_messages
{
	my ($log) = @_;
	return map {
		/^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] (?:.*? )?LOG:  (fk_guard: foreign key violation: .*|\{"fk_guard":"violation".*\})$/
		  ? $1 : ()
	} split /\n/, $log;
}

# A quoted value's escapes decoded, as bytes: UTF-8 for a UTF8 database, else
# each \u00XX is one byte (and the raw text must be pure ASCII).
sub decode_value
{
	my ($raw, $utf8) = @_;
	die "non-ASCII byte in a non-UTF8 database's line" if !$utf8 && $raw =~ /[^\x00-\x7f]/;
	my $chars = JSON::PP->new->utf8->allow_nonref->decode(qq{"$raw"});
	return $utf8 ? Encode::encode('UTF-8', $chars) : Encode::encode('latin1', $chars, Encode::FB_CROAK);
}

# A JSON message decoded, its strings as bytes (as decode_value).
sub decode_json_line
{
	my ($message, $utf8) = @_;
	die "non-ASCII byte in a non-UTF8 database's line" if !$utf8 && $message =~ /[^\x00-\x7f]/;
	my $v = JSON::PP->new->utf8->decode($message);
	for my $k (keys %$v)
	{
		$v->{$k} = $utf8 ? Encode::encode('UTF-8', $v->{$k}) : Encode::encode('latin1', $v->{$k}, Encode::FB_CROAK)
		  if defined $v->{$k} && !ref $v->{$k};
	}
	return $v;
}

# The fields of a text message as a list of [name, value] (values decoded),
# or undef when it is not made of ` name=value` fields only.
sub parse_text_line
{
	my ($message, $utf8) = @_;
	return undef unless $message =~ s/^fk_guard: foreign key violation://;
	my @fields;
	while (length $message)
	{
		if ($message =~ s/^ ([a-z_]+)="((?:[^"\\]|\\.)*)"//)
		{
			push @fields, [ $1, decode_value($2, $utf8) ];
		}
		elsif ($message =~ s/^ ([a-z_]+)=([A-Za-z0-9_.-]+)//)
		{
			push @fields, [ $1, $2 ];
		}
		else
		{
			return undef;
		}
	}
	return \@fields;
}

1;
