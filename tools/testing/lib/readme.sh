# SPDX-License-Identifier: GPL-2.0
# Blocks of README.md that tests run or check as the README has them, not
# copies. Sourced.
#
# A block is marked in the README's source by a line of its own,
# `<!-- NAME -->` (an HTML comment: not rendered), before an indented code
# block; blank lines may stand between the two, and the block ends at the
# first line that is not indented by four spaces.

# Print the block marked NAME in FILE, without its indentation. Fails when
# FILE has no such marker or more than one, or the block is empty.
readme_block() { # file name
	awk -v mark="<!-- $2 -->" '
		$0 == mark { marks++; on = 1; next }
		on && !lines && /^[ \t]*$/ { next }
		on && /^    / { lines++; sub(/^    /, ""); print; next }
		{ on = 0 }
		END { exit !(marks == 1 && lines > 0) }
	' "$1"
}

# Print the names of FILE's markers that begin with PREFIX, in their order.
readme_markers() { # file prefix
	sed -n "s/^<!-- \\($2[^ ]*\\) -->\$/\\1/p" "$1"
}
