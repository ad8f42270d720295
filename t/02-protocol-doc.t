#!/usr/bin/perl
# docs/protocol.md names everything include/rce_protocol.h defines, so the
# spec cannot drift from the code: every string define (a key, field,
# channel, label or verdict), every limit of the RCE_LIMITS X-macro with its
# bit, every numeric constant with its value, and the name-rule functions.
# Needs nothing built.

use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $header = 'include/rce_protocol.h';
my $docname = 'docs/protocol.md';

sub slurp {
    my ($path) = @_;
    open my $fh, '<', "$root/$path" or BAIL_OUT("cannot read $path: $!");
    local $/;
    return scalar <$fh>;
}

my @lines = split /\n/, slurp($header);
my $doc = slurp($docname);

# what the doc names: each `inline code` span, and each table row by its first cell
my %span = map { ($_ => 1) } $doc =~ /`([^`\n]+)`/g;
my %row;
for my $line (split /\n/, $doc) {
    next unless $line =~ /^\|/;
    my @cells = map { s/^\s+|\s+$//gr } split /\|/, $line;
    shift @cells;                           # before the first |
    push @{ $row{$cells[0]} }, \@cells if @cells;
}

# a string is named as `value`, or as a key prefix such as `rce:queue:<node>`
# or a label such as `rce.job=<id>`
sub named {
    my ($value) = @_;
    return 1 if $span{$value};
    return grep { index($_, $value) == 0 && substr($_, length $value) =~ /^=?</ } keys %span;
}

# --- the header ------------------------------------------------------------

my (@strings, @numbers, @limits, @functions);
my $in_limits = 0;
for my $i (0 .. $#lines) {
    my ($line, $where) = ($lines[$i], "$header:" . ($i + 1));
    if ($line =~ /^\s*#\s*define\s+(RCE_\w+)\s+"((?:[^"\\]|\\.)*)"/) {
        push @strings, [$1, $2, $where];
    } elsif ($line =~ /^\s*#\s*define\s+(RCE_\w+)\s+\(?(-?\d+)[uUlL]*\)?\s*(?:\/\*.*)?$/) {
        push @numbers, [$1, $2, $where];
    } elsif ($line =~ /^\s*#\s*define\s+RCE_LIMITS\(X\)/) {
        $in_limits = 1;
        next;
    } elsif ($line =~ /^(rce_\w+)\s*\(/) {
        my $function = $1;
        push @functions, [$function, $where] if $i > 0 && $lines[$i - 1] =~ /\bstatic\s+inline\b/;
    }
    if ($in_limits) {
        push @limits, [$1, $2, $where] if $line =~ /\bX\(\s*(\w+)\s*,\s*(\w+)\s*\)/;
        $in_limits = 0 unless $line =~ /\\\s*$/;
    }
}

# the parse itself still works (a header rewritten beyond what this test reads)
cmp_ok(scalar @strings, '>=', 40, "$header: its string defines were found");
cmp_ok(scalar @limits, '>=', 5, "$header: the RCE_LIMITS X-macro was found");
cmp_ok(scalar @numbers, '>=', 5, "$header: its numeric constants were found");

# --- every string ----------------------------------------------------------

for (@strings) {
    my ($name, $value, $where) = @$_;
    ok(named($value), "$name \"$value\" is named in $docname")
        or diag "$where defines $name \"$value\", which $docname never names: add "
              . ($value =~ /:\z/ ? "the key `$value<node>` (or `$value<id>`) to the Redis keys table"
                                 : "`$value` (in backticks) to the table of its kind (Job JSON, "
                                   . "Result JSON, Verdicts, Node JSON, Labels)")
              . ", with a line saying what it is";
}

# --- every limit, with its bit ---------------------------------------------

my %string = map { ($_->[0] => $_->[1]) } @strings;
for my $bit (0 .. $#limits) {
    my ($field, $keyname, $where) = @{ $limits[$bit] };
    my $key = $string{$keyname} // $field;
    is($key, $field, "RCE_LIMITS: $keyname is \"$field\"")
        or diag "$where: X($field, $keyname) but $keyname is \"" . ($key // '?') . '"';
    my @bits = map { $_->[1] } @{ $row{"`$key`"} // [] };
    ok((grep { defined && $_ eq $bit } @bits), "limit $key is in the Limits table of $docname with bit $bit")
        or diag "$where: RCE_LIMITS lists $key as bit $bit (its place in the result's clamped set): "
              . "add the row | `$key` | $bit | what it limits | gateway default | node default / maximum | "
              . "to the Limits table of $docname"
              . (@bits ? " (it has bit " . join(', ', map { $_ // '?' } @bits) . ')' : '');
}

# --- every numeric constant, with its value ----------------------------------

for (@numbers) {
    my ($name, $value, $where) = @$_;
    my @values = map { $_->[1] } @{ $row{"`$name`"} // [] };
    ok((grep { defined && $_ eq $value } @values), "$name ($value) is in the Constants table of $docname")
        or diag "$where defines $name $value: add the row | `$name` | $value | what it means | "
              . "to the Constants table of $docname"
              . (@values ? " (it says " . join(', ', map { $_ // '?' } @values) . ')' : '');
}

# --- the name rules ------------------------------------------------------------

for (@functions) {
    my ($name, $where) = @$_;
    ok($span{"$name()"} || $span{$name}, "$name() is named in $docname")
        or diag "$where defines $name(): name it as `$name()` in $docname with the rule it applies";
}

done_testing();
