# Starting the servers the cluster tests need, and changing their settings.
package FkgNode;
use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(start_node set_server_wide have_pg_cron preload_conf chomped);

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

# Whether pg_cron is installed for the server on PATH: Debian packages it for
# PostgreSQL 15 only, the source-built servers of scripts/test-matrix.sh have none.
sub have_pg_cron
{
	chomp(my $sharedir = `pg_config --sharedir`);
	return -f "$sharedir/extension/pg_cron.control";
}

# postgresql.conf lines preloading fk_guard, and pg_cron first when $cron.
sub preload_conf
{
	my ($cron) = @_;
	return q{shared_preload_libraries = 'fk_guard'} unless $cron;
	return q{
shared_preload_libraries = 'pg_cron, fk_guard'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
};
}

# Changes a setting server-wide and waits until new sessions see it.
sub set_server_wide
{
	my ($node, $name, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $name = '$value'; SELECT pg_reload_conf()");
	$node->poll_query_until('postgres', "SELECT setting = '$value' FROM pg_settings WHERE name = '$name'")
	  or die "$name did not become $value";
}

# BackgroundPsql's query results, without the trailing newline some minor
# releases (16.2) leave.
sub chomped { my ($v) = @_; chomp $v; return $v }

1;
