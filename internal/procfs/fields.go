package procfs

// fieldIter yields the space- or tab-separated fields of a line without
// allocating.
type fieldIter struct {
	b []byte
}

func (it *fieldIter) next() ([]byte, bool) {
	b := it.b
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i == len(b) {
		it.b = nil
		return nil, false
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	it.b = b[j:]
	return b[i:j], true
}

// nextLine splits b at the first newline.
func nextLine(b []byte) (line, rest []byte) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func parseUint(b []byte, base int, bits int) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	max := uint64(1)<<uint(bits) - 1
	if bits == 64 {
		max = ^uint64(0)
	}
	for _, c := range b {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if n > (max-d)/uint64(base) {
			return 0, false
		}
		n = n*uint64(base) + d
	}
	return n, true
}

func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	u, ok := parseUint(b, 10, 63)
	if !ok {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}
