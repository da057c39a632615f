# The perl workload of tests/test_realprogs.sh: perl's large allocations
# are the buffers of big strings (the whole input slurped into one scalar,
# a join of it, a transliterated copy) and the arrays of big lists and
# hashes (the split lines, the bucket array of a hash of 200k keys, the
# sorted key list): all 1 MiB and more, so SBMA memory under the preload.
# Prints counts and MD5 digests; deterministic for a given input.
#
#   perl pl_work.pl INPUT
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

local $/;
my $text = <>;
my @lines = split /\n/, $text;
my %val;
for (@lines) {
	my ($key, $num) = split /\t/;
	$val{$key} = $num;
}
my @keys = sort { $val{$a} <=> $val{$b} or $a cmp $b } keys %val;
my $joined = join("\n", @keys);
print scalar(@lines), " ", scalar(@keys), " ", length($joined), " ", md5_hex($joined), "\n";
(my $upper = $text) =~ tr/a-z/A-Z/;
print md5_hex($upper), " ", md5_hex(join("\n", reverse @lines)), "\n";
my %words;
$words{$_}++ for map { split / / } map { (split /\t/)[2] // '' } @lines;
my @top = (sort { $words{$b} <=> $words{$a} or $a cmp $b } keys %words)[0 .. 4];
print join(" ", map { "$_=$words{$_}" } @top), "\n";
