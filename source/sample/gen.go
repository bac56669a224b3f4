package sample

import (
	"sort"
	"strconv"
)

// Deterministic building blocks: hashing, simulated time, id selection.

const (
	day    = int64(24 * 60 * 60 * 1000)
	window = 7 * day // simulated time one sync covers
	// baseMillis is 2024-01-01T00:00:00Z; the seed shifts it by up to a year.
	baseMillis = int64(1704067200000)
	maxEpoch   = 10000
)

// mix is splitmix64's finalizer: a good 64-bit hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hash(seed int64, parts ...uint64) uint64 {
	h := mix(uint64(seed))
	for _, p := range parts {
		h = mix(h ^ p)
	}
	return h
}

// hash3 is hash without the variadic slice, for hot paths.
func hash3(seed int64, a, b, c uint64) uint64 {
	return mix(mix(mix(mix(uint64(seed))^a)^b) ^ c)
}

// timeBase is the start of epoch 0 for a seed.
func timeBase(seed int64) int64 {
	return baseMillis + int64(hash(seed, 0x7157)%365)*day
}

// plan lays out one stream's records over simulated time. Epoch 0 is the
// first sync; each later sync emits the next epoch. Within an epoch records
// have strictly increasing cursor values, and epochs do not overlap, so a
// cursor says exactly which records come after it.
type plan struct {
	seed    int64
	tag     uint64 // the stream, in hashes
	t0      int64
	initial int64 // records (entities) in epoch 0
	updates int64 // existing entities updated per later epoch (0: append only)
	fresh   int64 // new entities (or events) per later epoch
}

// length is the number of records in epoch e.
func (p *plan) length(e int64) int64 {
	if e == 0 {
		return p.initial
	}
	return p.updates + p.fresh
}

// existing is the number of entities before epoch e (e ≥ 1).
func (p *plan) existing(e int64) int64 { return p.initial + (e-1)*p.fresh }

// slot returns the time of record pos of a segment of n records spread over
// [start, start+span), strictly increasing in pos.
func (p *plan) slot(e, pos, n, start, span int64) int64 {
	step := span / n
	if step < 1 {
		step = 1
	}
	jitter := int64(0)
	if step > 1 {
		jitter = int64(hash3(p.seed, p.tag, uint64(e)<<32|1, uint64(pos)) % uint64(step))
	}
	return start + pos*step + jitter
}

// at returns the entity id of record pos of epoch e, its cursor time, and
// whether the record creates the entity.
func (p *plan) at(e, pos int64) (id, ts int64, created bool) {
	start := p.t0 + e*window
	if e == 0 {
		return pos + 1, p.slot(0, pos, p.initial, start, window), true
	}
	if pos < p.updates {
		n := p.existing(e)
		a, b := p.stride(e, n)
		return 1 + int64((a*uint64(pos)+b)%uint64(n)), p.slot(e, pos, p.updates, start, window/2), false
	}
	j := pos - p.updates
	if p.updates == 0 { // append only: the whole window is new records
		return p.existing(e) + j + 1, p.slot(e, j, p.fresh, start, window), true
	}
	return p.existing(e) + j + 1, p.slot(e, j, p.fresh, start+window/2, window/2), true
}

// stride picks a, b so that pos ↦ (a·pos+b) mod n visits distinct ids.
func (p *plan) stride(e, n int64) (uint64, uint64) {
	h := hash(p.seed, p.tag, uint64(e), 0x57)
	a := h%uint64(n) | 1
	for gcd(a, uint64(n)) != 1 {
		a += 2
	}
	return a, (h >> 32) % uint64(n)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// createdAt returns when entity id was created.
func (p *plan) createdAt(id int64) int64 {
	if id <= p.initial || p.fresh == 0 {
		_, ts, _ := p.at(0, id-1)
		return ts
	}
	k := id - p.initial - 1
	e := 1 + k/p.fresh
	_, ts, _ := p.at(e, p.updates+k%p.fresh)
	return ts
}

// createdEpoch returns the epoch in which entity id was created.
func (p *plan) createdEpoch(id int64) int64 {
	if id <= p.initial || p.fresh == 0 {
		return 0
	}
	return 1 + (id-p.initial-1)/p.fresh
}

// epochOf returns the epoch whose window holds ts.
func (p *plan) epochOf(ts int64) int64 {
	if ts < p.t0 {
		return 0
	}
	return (ts - p.t0) / window
}

// firstAfter returns the first position in epoch e whose time is after ts.
func (p *plan) firstAfter(e, ts int64) int64 {
	n := p.length(e)
	return int64(sort.Search(int(n), func(i int) bool {
		_, t, _ := p.at(e, int64(i))
		return t > ts
	}))
}

// appendTime appends ms (epoch milliseconds) as RFC 3339 in UTC with
// milliseconds: 2024-01-02T03:04:05.678Z. Fixed width, so strings sort as times.
func appendTime(b []byte, ms int64) []byte {
	days := ms / day
	rem := ms % day
	if rem < 0 {
		rem += day
		days--
	}
	// civil from days (H. Hinnant's algorithm)
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, m, 2)
	b = append(b, '-')
	b = appendPad(b, d, 2)
	b = append(b, 'T')
	b = appendPad(b, rem/3600000, 2)
	b = append(b, ':')
	b = appendPad(b, rem/60000%60, 2)
	b = append(b, ':')
	b = appendPad(b, rem/1000%60, 2)
	b = append(b, '.')
	b = appendPad(b, rem%1000, 3)
	return append(b, 'Z')
}

func appendPad(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendMoney appends cents as a JSON number with two decimals.
func appendMoney(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = strconv.AppendInt(b, cents/100, 10)
	b = append(b, '.')
	return appendPad(b, cents%100, 2)
}
