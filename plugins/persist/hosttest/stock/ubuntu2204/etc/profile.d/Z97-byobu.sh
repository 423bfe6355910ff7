#    Z97-byobu.sh - allow any user to opt into auto-launching byobu
#
#    Copyright (C) 2011 Canonical Ltd.
#
#    Authors: Dustin Kirkland <kirkland@byobu.org>
#
#    This program is free software: you can redistribute it and/or modify
#    it under the terms of the GNU General Public License as published by
#    the Free Software Foundation, version 3 of the License.

# Allow any user to disable the autolaunch, and launch once per shell
if [ -r "/usr/bin/byobu-launch" ] && [ "${BYOBU_DISABLE_AUTOLAUNCH-}" != "1" ]; then
	if [ "$0" = "-bash" ] || [ "$0" = "-zsh" ] || [ "$0" = "-sh" ] || [ "$0" = "bash" ] || [ "$0" = "sh" ]; then
		. /usr/bin/byobu-launch
	fi
fi

# vi: syntax=sh ts=4 noexpandtab
