package protocol

// Chunk is a run of whole protocol lines, read by [Reader.NextChunk] to be
// parsed elsewhere with a [LineParser].
type Chunk struct {
	// Lines holds the lines, each ending with '\n'.
	Lines []byte
	// First is the number of the first line (1-based); blank lines count.
	First int64
}

// NextChunk reads whole lines into buf[:0] (grown as needed) until they
// hold at least size bytes or the input ends, and returns them. Lines are
// numbered, limited and reported as by [Reader.Next]: a line longer than the
// maximum is left out and its *LineError returned by the next call (after
// the lines before it), and a read error or io.EOF ends the chunks after
// the last whole line. It does not parse the lines. NextChunk and Next may
// be mixed on one Reader.
func (r *Reader) NextChunk(buf []byte, size int) (Chunk, error) {
	if err := r.pending; err != nil {
		r.pending = nil
		return Chunk{}, err
	}
	c := Chunk{Lines: buf[:0], First: r.line + 1}
	for len(c.Lines) < size {
		line, err := r.readLine()
		if err != nil {
			if len(c.Lines) == 0 {
				return Chunk{}, err
			}
			if IsLineError(err) {
				r.pending = err // r.err repeats any other error by itself
			}
			return c, nil
		}
		c.Lines = append(c.Lines, line...)
		if line[len(line)-1] != '\n' {
			c.Lines = append(c.Lines, '\n')
		}
	}
	return c, nil
}
