# less initialization script (sh)

# All less.*sh files should have the same semantics!

# In case you are curious, the test for non-emptiness is not as easy as on
# Bash: ${LESSOPEN:-} does not work in csh, so both scripts check it apart.
if [ -z "$LESSOPEN" ] && [ -x /usr/bin/lesspipe.sh ]; then
    # The '||' here is intentional, see rhbz#1254837.
    export LESSOPEN="||/usr/bin/lesspipe.sh %s"
fi
