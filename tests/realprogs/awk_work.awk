# The awk workload of tests/test_realprogs.sh (mawk, gawk or any POSIX awk).
# RS is a byte that never occurs, so the whole input is one record: awk
# keeps it in one large string buffer (grown while it is read), split()
# makes an array of every line, and gsub() builds a modified copy of the
# whole text: large allocations, hence SBMA memory under the preload.
# Prints the lines in reverse order, then counts.
#
#   awk -f awk_work.awk INPUT
BEGIN { RS = "\001" }
{
	n = split($0, line, "\n")
	for (i = n; i > 0; i--)
		if (line[i] != "")
			print line[i]
	t = $0
	c = gsub(/a/, "A", t)
	print n, c, length(t), substr(t, 1000, 40)
}
