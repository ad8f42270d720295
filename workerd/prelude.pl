# What a warm container's PID 1 runs before wrapper.pl (workerd sends both as one `perl -e`
# program): waits on stdin for the job (sandbox_payload: a line of the byte lengths of the
# wrapper's arguments, then the arguments), puts /dev/null in place of stdin and goes on as
# the wrapper with them. An interactive job (its 14th word is 1) keeps stdin, which then
# carries workerd's control lines: what was read past the payload goes to the wrapper in
# $rce_control. A short or malformed payload, or stdin closing first (workerd went away:
# StdinOnce), ends it with status 125 and no output.
binmode(STDIN);
my $in = q();
sub more { sysread(STDIN, $in, 1 << 16, length($in)) or exit 125 }
my $nl;
while (($nl = index($in, qq(\n))) < 0) { exit 125 if length($in) > 1 << 24; more() }
my @lengths = split(/ /, substr($in, 0, $nl + 1, q()));
chomp(@lengths);
my $total = 0;
for (@lengths) { /^\d+$/ or exit 125; $total += $_ }
more() while length($in) < $total;
@ARGV = map { substr($in, 0, $_, q()) } @lengths;
our $rce_control = $in;
$ARGV[13] or open(STDIN, q(<), q(/dev/null)) or exit 125;
