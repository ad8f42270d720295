#!/usr/bin/perl
# The libraries the language images carry (docker/lang/<language>/lang.conf's
# `libraries`, docs/languages.md), used through the whole stack
# (POST /api/v1/run): Python's numpy, pandas, scipy, sympy and matplotlib (a
# plot saved to /tmp with the Agg backend, its PNG read back exactly through
# "output_encoding": "base64"), JavaScript's lodash, underscore, ramda and
# moment, C++'s Boost headers, Java's JUnit (a passing and a failing
# assertion), R's recommended packages; and SQL's convention for a schema
# (another file of the request, read with .read).  Each image's rce.libraries label
# names what it declares, with versions, and GET /api/v1/languages lists them.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use RCETest qw(wait_until);

my $t = RCETest->new;
$t->start_redis;
$t->start_nginx;
$t->start_worker('a', '--slots', '2');
ok($t->wait_nodes('a'), 'node a is live');

my $JSON = JSON::PP->new->utf8->canonical;

# run LANGUAGE, CODE, EXTRA -> the answer's document ({} when it is not JSON)
sub run {
    my ($lang, $code, %extra) = @_;
    my $res = $t->post('/api/v1/run', $JSON->encode({ language => $lang, (defined $code ? (code => $code) : ()), %extra }),
                       'Content-Type' => 'application/json');
    is($res->{status}, 200, "$lang: 200") or diag $res->{content};
    return $t->json($res->{content}) // {};
}

# ok_run NAME, LANGUAGE, CODE, EXPECTED (a regexp on stdout), EXTRA
sub ok_run {
    my ($name, $lang, $code, $want, %extra) = @_;
    my $j = run($lang, $code, %extra);
    (is($j->{status}, 'OK', "$name: OK") && like($j->{run}{stdout} // '', $want, "$name: its output"))
        or diag explain $j;
    return $j;
}

# --- the labels ----------------------------------------------------------------
my %declared = (
    python     => [qw(numpy pandas scipy sympy matplotlib)],
    javascript => [qw(lodash underscore ramda moment)],
    cpp        => [qw(boost)],
    java       => [qw(junit hamcrest)],
    r          => [qw(MASS Matrix lattice nlme survival)],
);
for my $lang (sort keys %declared) {
    my $label = `docker image inspect -f '{{index .Config.Labels "rce.libraries"}}' rce/$lang 2>/dev/null`;
    chomp $label;
    my $libs = eval { $JSON->decode($label) } // {};
    for my $lib (@{ $declared{$lang} }) {
        like($libs->{$lib} // '', qr/^\d+(\.\d+)+/, "rce/${lang}'s rce.libraries names $lib with its version");
    }
}

# --- and GET /api/v1/languages shows them, from the node's advertisement
my $catalogue = $t->json($t->{http}->get($t->url('/api/v1/languages'))->{content}) // [];
my %listed = map { ($_->{name} => $_) } @$catalogue;
for my $lang (sort keys %declared) {
    my @missing = grep { ($listed{$lang}{libraries}{$_} // '') !~ /^\d+(\.\d+)+/ } @{ $declared{$lang} };
    ok(!@missing, "GET /api/v1/languages: $lang lists its libraries with versions") or diag explain $listed{$lang};
}
is_deeply($listed{bash}{libraries}, {}, 'GET /api/v1/languages: a language without libraries lists none ({})');

# --- Python ----------------------------------------------------------------------
ok_run('python numpy', 'python', <<'EOF', qr/^\[2\. 3\.\]\n30\.0\n$/);
import numpy as np
print(np.linalg.solve(np.array([[3, 1], [1, 2]]), np.array([9, 8])))
print(float(np.arange(5).dot(np.arange(5)) ))
EOF
ok_run('python pandas', 'python', <<'EOF', qr/^a 4\nb 6\n$/);
import pandas as pd
df = pd.DataFrame({"k": ["a", "b", "a", "b"], "v": [1, 2, 3, 4]})
for k, v in df.groupby("k")["v"].sum().items():
    print(k, v)
EOF
ok_run('python scipy', 'python', <<'EOF', qr/^0\.333333\n1\.414214\n$/);
from scipy import integrate, optimize
print("%.6f" % integrate.quad(lambda x: x * x, 0, 1)[0])
print("%.6f" % optimize.brentq(lambda x: x * x - 2, 0, 2))
EOF
ok_run('python sympy', 'python', <<'EOF', qr/^x\*\*3\/3\n\(x - 1\)\*\(x \+ 1\)\n$/);
import sympy
x = sympy.symbols("x")
print(sympy.integrate(x ** 2, x))
print(sympy.factor(x ** 2 - 1))
EOF
# a plot saved to /tmp (Agg: no display), then its bytes on stdout, exactly
my $j = ok_run('python matplotlib', 'python', <<'EOF', qr/./s, output_encoding => 'base64');
import sys
import matplotlib
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3), dpi=50)
ax.plot([0, 1, 2], [0, 1, 4])
fig.savefig("/tmp/plot.png")
sys.stderr.write(matplotlib.get_backend() + "\n")
with open("/tmp/plot.png", "rb") as f:
    sys.stdout.buffer.write(f.read())
EOF
my $png = decode_base64($j->{run}{stdout} // '');
is(substr($png, 0, 8), "\x89PNG\r\n\x1a\n", 'python matplotlib: the file saved is a PNG');
is(join('x', unpack('x16 N N', $png)), '200x150', 'python matplotlib: of the figure\'s size (4 x 3 in at 50 dpi)');
is(decode_base64($j->{run}{stderr} // ''), "agg\n", 'python matplotlib: drawn by the Agg backend');

# --- JavaScript ----------------------------------------------------------------------
ok_run('javascript lodash, underscore, ramda, moment', 'javascript', <<'EOF', qr/^\[\[1,2\],\[3,4\],\[5\]\]\n3\n9\n2026-12-08\n$/);
const _ = require("lodash");
const u = require("underscore");
const R = require("ramda");
const moment = require("moment");
console.log(JSON.stringify(_.chunk([1, 2, 3, 4, 5], 2)));
console.log(u.max([1, 3, 2]));
console.log(R.sum(R.map(R.inc, [1, 2, 3])));
console.log(moment.utc("2026-12-07").add(1, "day").format("YYYY-MM-DD"));
EOF

# --- C++ --------------------------------------------------------------------------------
ok_run('cpp boost', 'cpp', <<'EOF', qr/^265252859812191058636308480000000\nDRILL-MY-BRAIN\n$/);
#include <boost/multiprecision/cpp_int.hpp>
#include <boost/algorithm/string.hpp>
#include <iostream>
#include <string>
#include <vector>
int main() {
    boost::multiprecision::cpp_int f = 1;
    for (int i = 2; i <= 30; i++) f *= i;
    std::cout << f << "\n";
    std::vector<std::string> words{"drill", "my", "brain"};
    std::string s = boost::algorithm::join(words, "-");
    boost::algorithm::to_upper(s);
    std::cout << s << "\n";
}
EOF

# --- Java -------------------------------------------------------------------------------
my $java_tests = <<'EOF';
import static org.junit.Assert.assertEquals;
import static org.hamcrest.CoreMatchers.containsString;
import static org.hamcrest.MatcherAssert.assertThat;
import org.junit.Test;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

public class Main {
    static int add(int a, int b) { return a + b; }

    public static class AddTest {
        @Test public void adds() { assertEquals(5, add(2, 3)); }
        @Test public void says() { assertThat("drill my brain", containsString("my")); }
        @Test public void WANT() { assertEquals(WANTED, add(2, 2)); }
    }

    public static void main(String[] args) {
        Result r = JUnitCore.runClasses(AddTest.class);
        for (Failure f : r.getFailures()) System.out.println("failed: " + f.getMessage());
        System.out.println(r.getRunCount() + " run, " + r.getFailureCount() + " failed");
    }
}
EOF
(my $pass = $java_tests) =~ s/WANTED/4/;
ok_run('java junit: assertions that hold', 'java', $pass, qr/^3 run, 0 failed\n$/);
(my $fail = $java_tests) =~ s/WANTED/5/;
ok_run('java junit: an assertion that fails', 'java', $fail,
       qr/^failed: expected:<5> but was:<4>\n3 run, 1 failed\n$/);

# --- R ------------------------------------------------------------------------------------
ok_run('r recommended packages', 'r', <<'EOF', qr/^3\/4\n2\n8\n$/);
suppressPackageStartupMessages({ library(MASS); library(Matrix); library(lattice) })
cat(as.character(fractions(0.75)), "\n", sep = "")
m <- Matrix(c(1, 0, 0, 2), 2, sparse = TRUE)
cat(nnzero(m), "\n", sep = "")
fit <- lm(dist ~ speed, data = cars[1:10, ])
cat(length(coef(summary(fit))), "\n", sep = "")
EOF

# --- SQL: a schema as another file of the request (docs/languages.md#sql) ------------
$j = run('sql', undef, files => [
    { name => 'main.sql', content => ".read schema.sql\nSELECT name, n FROM t ORDER BY n DESC;\n" },
    { name => 'schema.sql', content => "CREATE TABLE t(name TEXT, n INTEGER);\n"
                                     . "INSERT INTO t VALUES ('drill', 1), ('brain', 3), ('my', 2);\n" }]);
(is($j->{status}, 'OK', 'sql with a schema file: OK')
 && is($j->{run}{stdout}, "brain|3\nmy|2\ndrill|1\n", 'sql with a schema file: the query reads its tables'))
    or diag explain $j;
$j = run('sql', "SELECT * FROM t;\n");
(is($j->{status}, 'RE', 'sql: each run starts from an empty database (no table t)')
 && like($j->{run}{stderr} // '', qr/no such table: t/, 'sql: the message says so'))
    or diag explain $j;

ok(wait_until(sub { !$t->containers }, 20), 'no container left');
$t->stop_all;
done_testing;
