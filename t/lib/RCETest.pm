package RCETest;

# The test stack, all real: a redis-server on a free loopback port, the stock
# nginx with the built ngx_rce_module from a temp prefix, and workerd
# processes on the host's Docker engine.  Everything started here is stopped
# when the test ends, and every job container of its nodes must be gone.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use IO::Handle;
use Time::HiRes qw(sleep time);
use Test::More;

use Exporter 'import';
our @EXPORT_OK = qw(free_port wait_until port_is_free capture);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');

sub new {
    my ($class, %opt) = @_;

    for my $var (qw(RCE_MODULE_SO RCE_WORKERD)) {
        defined $ENV{$var} && -e $ENV{$var}
            or BAIL_OUT("$var is not set to a built file: run ./deploy.sh test");
    }

    my $self = bless {
        dir     => tempdir('rce-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{RCE_KEEP}),
        workers => {},
        tag     => sprintf('t%d%04d', $$, int(rand(10000))),
        nginx_extra => $opt{nginx_extra} // '',
        http    => HTTP::Tiny->new(timeout => 60),
        owner   => $$,
    }, $class;

    # nginx's worker processes (not root) write request bodies under it
    chmod 0711, $self->{dir};

    return $self;
}

# the seed system's three snippets: each prints "drill my brain"
our %SEED = (
    python     => qq{print("drill my brain") \n},
    javascript => qq{console.log("drill my brain");\n},
    java       => <<'JAVA',
public class BrainDrill {
    public static void main(String[] args) {
        System.out.println("drill my brain");
    }
}
JAVA
);

# true if the list holds at least the three first languages, sorted and
# without repeats (nodes also offer whatever other images this engine has)
sub has_core_languages {
    my ($list) = @_;
    return 0 unless ref $list eq 'ARRAY';
    my %have = map { ($_ => 1) } @$list;
    my @sorted = sort @$list;
    return 0 if join("\0", @sorted) ne join("\0", @$list) || keys %have != @$list;
    return 0 unless $have{python} && $have{java} && $have{javascript};
    return 1;
}

sub root { $ROOT }
sub dir  { $_[0]{dir} }
sub tag  { $_[0]{tag} }

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp', ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# true if nothing listens on 127.0.0.1:$port and we may bind it
sub port_is_free {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => $port, Proto => 'tcp', ReuseAddr => 1)
        or return 0;
    close $s;
    return 1;
}

# run a command (a list, no shell); returns its exit status ($? >> 8, or 128 +
# signal) and its stdout+stderr
sub capture {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        open STDIN, '<', '/dev/null';
        { exec @cmd }
        print "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    return ($rc, $out);
}

# poll $code until it returns true or $timeout seconds pass
sub wait_until {
    my ($code, $timeout, $step) = @_;
    my $end = time + ($timeout // 10);
    while (time < $end) {
        my $v = $code->();
        return $v if $v;
        sleep($step // 0.1);
    }
    return;
}

sub _spawn {
    my ($self, $log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    return $pid;
}

# --- redis -------------------------------------------------------------------

# start_redis(aof => 1): persist to an append-only file in the test's folder,
# so that a restart keeps the queues (as the compose deployment does)
sub start_redis {
    my ($self, %opt) = @_;
    $self->{redis_port} //= free_port();
    $self->{redis_aof} = $opt{aof} if exists $opt{aof};
    my $port = $self->{redis_port};
    $self->{redis_pid} = $self->_spawn("$self->{dir}/redis.log",
        'redis-server', '--port', $port, '--bind', '127.0.0.1',
        '--save', '', '--appendonly', $self->{redis_aof} ? 'yes' : 'no',
        '--appendfsync', 'always', '--dir', $self->{dir});
    wait_until(sub { $self->redis('PING') eq 'PONG' }, 10)
        or die "redis did not start on $port";
    return $port;
}

sub stop_redis {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

sub redis_port { $_[0]{redis_port} }

# one redis-cli command; returns its raw output, chomped
sub redis {
    my ($self, @args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        { exec 'redis-cli', '-p', $self->{redis_port}, '--raw', @args }
        POSIX::_exit(127);
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    $out =~ s/\n\z//;
    return $out;
}

# --- nginx -------------------------------------------------------------------

sub start_nginx {
    my ($self, %opt) = @_;
    my $dir = "$self->{dir}/nginx";
    mkdir $dir; mkdir "$dir/logs";
    $self->{http_port} //= free_port();
    my $conf = $self->nginx_conf(%opt);
    open my $fh, '>', "$dir/nginx.conf" or die;
    print $fh $conf;
    close $fh;
    if ($ENV{RCE_VALGRIND}) {
        # one process, so that valgrind sees the module's whole life
        $self->{nginx_pid} = $self->_spawn("$dir/logs/stderr.log",
            'valgrind', '--leak-check=full', '--errors-for-leak-kinds=definite',
            '--show-leak-kinds=definite', "--log-file=$dir/valgrind.log",
            "--suppressions=$ROOT/t/valgrind.supp",
            'nginx', '-p', "$dir/", '-c', "$dir/nginx.conf",
            '-g', 'daemon off; master_process off;');
        wait_until(sub {
            IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{http_port})
        }, 30) or die "nginx under valgrind did not start";
    } else {
        system('nginx', '-p', "$dir/", '-c', "$dir/nginx.conf", '-q') == 0
            or die "nginx did not start: " . $self->slurp("$dir/logs/error.log");
    }
    $self->{nginx} = 1;
    return $self->{http_port};
}

sub nginx_conf {
    my ($self, %opt) = @_;
    my $dir = "$self->{dir}/nginx";
    my $workers = $opt{workers} // 2;
    my $extra = $opt{extra} // $self->{nginx_extra};
    my $http_extra = $opt{http_extra} // '';    # http-level directives (limit_req_zone, ...)
    my $redis = $opt{redis} // "127.0.0.1:$self->{redis_port}";
    # the playground at / (make playground builds it; t/36-playground.t)
    my $playground = $ENV{RCE_PLAYGROUND_DIR} // "$ROOT/build/playground";
    return <<"CONF";
load_module $ENV{RCE_MODULE_SO};
worker_processes $workers;
error_log $dir/logs/error.log info;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    client_body_buffer_size 64k;
    rce_redis $redis;
    $http_extra
    server {
        listen 127.0.0.1:$self->{http_port};
        error_page 400 405 408 411 413 414 494 501 505 /.rce-error;
        location = /.rce-error { internal; rce_error; }
        location /lang/ { rce_run; rce_wall_limit 5s; rce_timeout 30s; }
        location /short/ { rce_run; rce_wall_limit 1s; rce_timeout 2s; }
        location /tiny/ { rce_run; rce_output_limit 1k; rce_max_code_size 1k; }
        location = /health { rce_health; }
        location = /api/v1/run { rce_api_run; rce_wall_limit 5s; rce_timeout 30s; rce_max_files 4; }
        location = /api/v1/languages { rce_api_languages; }
        location /api/v1/jobs { rce_api_jobs; rce_wall_limit 5s; rce_max_files 4; client_max_body_size 8m; }
        location /api/v2/ { rce_api_piston; rce_wall_limit 5s; rce_timeout 30s; rce_max_files 4; }
        location /api/ { error_page 404 /.rce-error; return 404; }
        location = / { root $playground; try_files /index.html =404; types { text/html html; } add_header Cache-Control no-cache;
                       add_header Content-Security-Policy "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"; add_header X-Content-Type-Options nosniff; }
        location /assets/ { root $playground; types { application/javascript js; text/css css; application/json json; } add_header Cache-Control no-cache; }
        location = /widget.js { root $playground; types { application/javascript js; } add_header Cache-Control no-cache; }
        location = /api/v1/openapi.json { alias $ROOT/docs/openapi.json; types { } default_type application/json; }
        $extra
    }
}
CONF
}

sub stop_nginx {
    my ($self) = @_;
    delete $self->{nginx} or return;
    my $dir = "$self->{dir}/nginx";
    if (my $vpid = delete $self->{nginx_pid}) {
        kill 'QUIT', $vpid;
        wait_until(sub { waitpid($vpid, WNOHANG) == $vpid }, 60) or do {
            kill 'KILL', $vpid; waitpid $vpid, 0;
        };
        push @{ $self->{valgrind_logs} }, $self->slurp("$dir/valgrind.log");
        return;
    }
    my $pid = $self->slurp("$dir/nginx.pid");
    chomp $pid;
    system("nginx -p '$dir/' -c '$dir/nginx.conf' -s stop 2>/dev/null");
    wait_until(sub { !kill(0, $pid) }, 10) if $pid;
}

sub nginx_log { $_[0]->slurp("$_[0]{dir}/nginx/logs/error.log") }

sub url { "http://127.0.0.1:$_[0]{http_port}$_[1]" }

# --- workerd -----------------------------------------------------------------

sub start_worker {
    my ($self, $name, @args) = @_;
    my $node = "$self->{tag}-$name";
    my $pid = $self->_spawn("$self->{dir}/workerd-$name.log",
        $ENV{RCE_WORKERD}, '--redis', "127.0.0.1:$self->{redis_port}",
        '--name', $node, @args);
    $self->{workers}{$name} = { pid => $pid, node => $node };
    return $node;
}

sub worker_pid  { $_[0]{workers}{$_[1]}{pid} }
sub node_name   { "$_[0]{tag}-$_[1]" }
sub worker_log  { $_[0]->slurp("$_[0]{dir}/workerd-$_[1].log") }

sub stop_worker {
    my ($self, $name, $signal) = @_;
    my $w = delete $self->{workers}{$name} or return;
    push @{ $self->{stopped} }, $name;
    kill $signal // 'TERM', $w->{pid};
    my $ok = wait_until(sub { waitpid($w->{pid}, WNOHANG) == $w->{pid} }, 40);
    unless ($ok) {
        kill 'KILL', $w->{pid};
        waitpid $w->{pid}, 0;
    }
    return $? ;
}

# wait until /health lists exactly these nodes (names as given to start_worker)
sub wait_nodes {
    my ($self, @names) = @_;
    my %want = map { ($self->node_name($_) => 1) } @names;
    return wait_until(sub {
        my $res = $self->{http}->get($self->url('/health'));
        return 0 unless $res->{status} == 200 || $res->{status} == 503;
        my @have = $res->{content} =~ /"name":"([^"]+)"/g;
        my %have = map { ($_ => 1) } @have;
        return 0 unless keys %have == keys %want;
        $have{$_} or return 0 for keys %want;
        return 1;
    }, 20);
}

# --- HTTP ----------------------------------------------------------------------

sub post {
    my ($self, $path, $body, %headers) = @_;
    return $self->{http}->request('POST', $self->url($path),
        { content => $body, headers => \%headers });
}

sub run_code {
    my ($self, $lang, $code, %headers) = @_;
    return $self->post("/lang/$lang", $code, %headers);
}

# --- docker ----------------------------------------------------------------------

# ids (12 hex digits) of containers (any state) that belong to this test's
# nodes: job containers, and with $all also the warm containers waiting for a
# job, which the running nodes list in their heartbeat (rce:node:<name> "pool":
# {"ready": {language: [id, ...]}}; at most a second old)
sub containers {
    my ($self, $all) = @_;
    my $prefix = "$self->{tag}-";
    my %warm;
    unless ($all) {
        for my $w (values %{ $self->{workers} }) {
            my $node = $self->json($self->redis('GET', "rce:node:$w->{node}") // '') or next;
            $warm{$_} = 1 for map { @$_ } values %{ $node->{pool}{ready} // {} };
        }
    }
    my @ids;
    for (split /\n/, `docker ps -a --no-trunc --format '{{.ID}} {{.Label "rce.node"}}'`) {
        my ($id, $node) = split / /;
        push @ids, substr($id, 0, 12)
            if defined $node && index($node, $prefix) == 0 && !$warm{ substr($id, 0, 12) };
    }
    return @ids;
}

# the warm containers the running nodes report, by language: { python => n, ... }
sub warm_counts {
    my ($self) = @_;
    my %n;
    for my $w (values %{ $self->{workers} }) {
        my $node = $self->json($self->redis('GET', "rce:node:$w->{node}") // '') or next;
        my $ready = $node->{pool}{ready} // {};
        $n{$_} += @{ $ready->{$_} } for keys %$ready;
    }
    return \%n;
}

# --- steady load ---------------------------------------------------------------

# Starts $opt{clients} forked clients that send a mix of short jobs, each
# printing its own token, until stop_load or $opt{max} requests each (and
# $opt{seconds}, default 120, at most): bounded in count and time.
sub start_load {
    my ($self, %opt) = @_;
    my $clients = $opt{clients} // 4;
    my $max = $opt{max} // 1000;
    my $seconds = $opt{seconds} // 120;
    my $path = $opt{path} // '/lang/';
    my $id = ++$self->{loads};
    my $stop = "$self->{dir}/load$id.stop";
    my @pids;
    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $http = HTTP::Tiny->new(timeout => 90);
            open my $out, '>', "$self->{dir}/load$id.$c" or die;
            $out->autoflush(1);
            my $end = time + $seconds;
            for my $i (1 .. $max) {
                last if -e $stop || time > $end;
                my $token = "tok-$id-$c-$i";
                my ($lang, $code) = $opt{java} && $i % 10 == 0
                    ? ('java', qq{public class M { public static void main(String[] a) { System.out.println("$token"); } }})
                    : $i % 2 ? ('python', qq{print("$token")})
                             : ('javascript', qq{console.log("$token")});
                my $t0 = time;
                my $res = $http->request('POST', $self->url("$path$lang"), { content => $code });
                my $ms = int((time - $t0) * 1000);
                my $right = $res->{status} == 200 && $res->{content} eq "$token\n" ? 'right' : 'wrong';
                printf $out "%d %s %s %d %s %s\n", $res->{status},
                    $res->{headers}{'x-rce-status'} // '-', $res->{headers}{'x-rce-node'} // '-',
                    $ms, $right, $token;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return { id => $id, stop => $stop, pids => \@pids, clients => $clients };
}

# Stops a load and returns its results: [{status, verdict, node, ms, right, token}]
sub stop_load {
    my ($self, $load) = @_;
    open my $fh, '>', $load->{stop}; close $fh;
    waitpid $_, 0 for @{ $load->{pids} };
    my @results;
    for my $c (1 .. $load->{clients}) {
        open my $in, '<', "$self->{dir}/load$load->{id}.$c" or next;
        while (<$in>) {
            chomp;
            my %r;
            @r{qw(status verdict node ms right token)} = split / /;
            push @results, \%r;
        }
    }
    return \@results;
}

# every Redis list of the rce scheme that still holds something
sub leftover_lists {
    my ($self) = @_;
    my @left;
    for my $key (split /\n/, $self->redis('--scan', '--pattern', 'rce:*')) {
        next unless $key =~ /^rce:(?:queue|running):/;
        my $n = $self->redis('LLEN', $key);
        push @left, "$key=$n" if $n;
    }
    return @left;
}

# Sends raw bytes to the test server on a fresh connection and reads its answer: $parts is a
# string, or a list of strings written apart ($opt{pause} s after each); hang_up shuts the
# sending side afterwards (how nginx learns that no more comes); whole stops reading once
# the answer's Content-Length is in, else it reads until the server closes; at most
# $opt{timeout} (10) s. An interim 100 Continue is skipped. Returns (status, or 0 for no
# answer; {lowercase header name => value}; body; seconds taken; every byte read).
sub raw_http {
    my ($self, $parts, %opt) = @_;
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{http_port}, Timeout => 5)
        or die "connect: $!";
    binmode $s;
    local $SIG{PIPE} = 'IGNORE';
    for my $p (ref $parts ? @$parts : ($parts)) {
        syswrite $s, $p;
        sleep $opt{pause} if $opt{pause};
    }
    shutdown($s, 1) if $opt{hang_up};
    my ($answer, $deadline, $sel) = ('', time + ($opt{timeout} // 10), IO::Select->new($s));
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread $s, my $chunk, 65536;
        last unless $n;
        $answer .= $chunk;
        $answer =~ s{\AHTTP/1\.1 100 Continue\r\n\r\n}{};
        if ($opt{whole}) {
            my ($head, $body) = split /\r\n\r\n/, $answer, 2;
            my ($len) = ($head // '') =~ /\r\nContent-Length:\s*(\d+)/i;
            last if defined $body && defined $len && length($body) >= $len;
        }
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $answer, 2;
    my ($status) = ($head // '') =~ m{\AHTTP/1\.[01] (\d{3}) };
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $head // '';
    return ($status // 0, \%h, $body // '', time - $t0, $answer);
}

sub slurp {
    my ($self, $file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

sub json {
    my ($self, $text) = @_;
    return eval { JSON::PP->new->utf8->decode($text) };
}

# one JSON API call: $body (a structure, sent as JSON) or none; returns (status, the answer
# decoded, or {} when it is not JSON, and HTTP::Tiny's response)
sub call {
    my ($self, $method, $path, $body) = @_;
    my $res = $self->{http}->request($method, $self->url($path),
        defined $body ? { content => JSON::PP->new->utf8->canonical->encode($body),
                          headers => { 'Content-Type' => 'application/json' } } : {});
    return ($res->{status}, $self->json($res->{content}) // {}, $res);
}

# stops everything; called from a test (not from DESTROY) it also checks that
# no workerd log holds a sanitizer report (RCE_SANITIZE=1 ./deploy.sh test)
sub stop_all {
    my ($self, $from_destroy) = @_;
    $self->stop_nginx;
    for my $name (keys %{ $self->{workers} }) {
        $self->stop_worker($name);
    }
    $self->stop_redis;
    return if $from_destroy;
    # a stopped node removes its warm containers; a killed one's are removed at
    # its next start (or by a peer RCE_DEAD_REAP_GRACE_S after its death)
    if ($self->{stopped} && @{ $self->{stopped} }) {
        ok(wait_until(sub { !$self->containers(1) }, 20),
           'no container of the stopped nodes is left, warm ones included')
            or diag join ' ', $self->containers(1);
        system("docker rm -f $_ >/dev/null 2>&1") for $self->containers(1);
    }
    my @reports;
    for my $name (@{ $self->{stopped} // [] }) {
        my $log = $self->worker_log($name);
        push @reports, "workerd $name:\n$log"
            if $log =~ /(?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
    }
    ok(!@reports, 'no sanitizer report in any workerd log') or diag join "\n", @reports;
    # an [alert] is nginx catching the module at a mistake (e.g. answering twice)
    my @alerts = grep { /\[(?:alert|crit|emerg)\]/ && !/open\(\) "[^"]*nginx.pid" failed/ }
                 split /\n/, $self->nginx_log;
    ok(!@alerts, 'no alert in the nginx error log') or diag join "\n", @alerts[0 .. ($#alerts < 4 ? $#alerts : 4)];
    $self->{stopped} = [];
    for my $log (@{ delete $self->{valgrind_logs} // [] }) {
        like($log, qr/ERROR SUMMARY: 0 errors/, 'valgrind: no error in nginx with the module')
            or diag $log;
    }
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    # a forked child leaving must not take the stack down with it
    $self->stop_all(1) if $$ == $self->{owner};
}

1;
