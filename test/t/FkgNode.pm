# Starting the servers the cluster tests need, and changing their settings.
package FkgNode;
use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(start_node set_server_wide);

# A new node named $name, initialised (with %init, as Cluster->init takes it),
# $conf appended to its postgresql.conf when given, and started.
sub start_node
{
	my ($name, $conf, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', $conf) if defined $conf;
	$node->start;
	return $node;
}

# Changes a setting server-wide and waits until new sessions see it.
sub set_server_wide
{
	my ($node, $name, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $name = '$value'; SELECT pg_reload_conf()");
	$node->poll_query_until('postgres', "SELECT setting = '$value' FROM pg_settings WHERE name = '$name'")
	  or die "$name did not become $value";
}

1;
