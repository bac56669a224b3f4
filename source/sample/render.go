package sample

import (
	"strconv"

	"github.com/lakeport/lakeport/protocol"
)

// Record renderers: each appends one record's JSON object to b without
// reflection. Every field is a pure function of (seed, id, version).

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim", "Margaret", "Linus", "Sophie", "Guido", "Hedy", "John", "Katherine", "Dennis", "Anita", "Leslie"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Berners-Lee", "Hamilton", "Torvalds", "Wilson", "van Rossum", "Lamarr", "Backus", "Johnson", "Ritchie", "Borg", "Lamport"}
	companies  = []string{"Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Wonka Industries", "Cyberdyne", "Soylent", "Tyrell Corp", "Vandelay Industries"}
	domains    = []string{"example.com", "example.org", "mail.example.net", "corp.example"}
	countries  = []struct{ code, city, currency string }{{"US", "New York", "usd"}, {"GB", "London", "gbp"}, {"DE", "Berlin", "eur"}, {"FR", "Paris", "eur"}, {"NL", "Amsterdam", "eur"}, {"CA", "Toronto", "cad"}, {"JP", "Tokyo", "jpy"}, {"AU", "Sydney", "aud"}}
	streets    = []string{"Main St", "High Street", "Market Ave", "Elm Road", "Harbour Way", "Station Road"}
	plans      = []struct {
		name  string
		cents int64
	}{{"free", 0}, {"starter", 900}, {"pro", 2900}, {"enterprise", 9900}}
	tags     = []string{"vip", "churn-risk", "beta", "partner", "trial", "annual"}
	products = []struct {
		name  string
		cents int64
	}{{"Seat license", 2900}, {"Onboarding", 49900}, {"Support plan", 19900}, {"API calls (1k)", 150}, {"Storage (GB)", 25}, {"Training session", 75000}}
	eventTypes = []string{"page_view", "page_view", "page_view", "click", "click", "signup", "login", "search", "purchase", "logout"}
	paths      = []string{"/", "/pricing", "/docs", "/blog/iceberg-tables", "/signup", "/dashboard", "/settings/billing", "/integrations"}
	referrers  = []string{"https://www.google.com/", "https://news.ycombinator.com/", "https://github.com/", "https://t.co/"}
	browsers   = []string{"chrome", "firefox", "safari", "edge"}
	oses       = []string{"macos", "windows", "linux", "ios", "android"}
)

func pick[T any](xs []T, h uint64) T { return xs[h%uint64(len(xs))] }

func appendKey(b []byte, first bool, key string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendStr(b []byte, s string) []byte { return protocol.AppendString(b, s) }

// customer renders version `version` (an epoch) of customer id.
func (g *generator) customer(b []byte, id, version, updatedAt int64) []byte {
	h := hash3(g.cfg.Seed, 0xC0, uint64(id), 0)
	hv := hash3(g.cfg.Seed, 0xC1, uint64(id), uint64(version))
	first, last := pick(firstNames, h), pick(lastNames, h>>8)
	country := pick(countries, h>>16)
	pl := pick(plans, hv)
	seats := int64(1 + (hv>>8)%50)
	if pl.cents == 0 {
		seats = 1
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = appendKey(b, false, "name")
	b = appendStr(b, first+" "+last)
	b = appendKey(b, false, "email")
	b = append(b, '"')
	b = appendLower(b, first)
	b = append(b, '.')
	b = strconv.AppendInt(b, id, 10)
	b = append(b, '@')
	domainHash := h >> 24
	if version > 0 && (hv>>16)%5 == 0 { // some customers change their email
		domainHash = hv >> 20
	}
	b = append(b, pick(domains, domainHash)...)
	b = append(b, '"')
	b = appendKey(b, false, "company")
	if (h>>32)%5 == 0 {
		b = append(b, "null"...)
	} else {
		b = appendStr(b, pick(companies, h>>36))
	}
	b = appendKey(b, false, "plan")
	b = appendStr(b, pl.name)
	b = appendKey(b, false, "seats")
	b = strconv.AppendInt(b, seats, 10)
	b = appendKey(b, false, "mrr")
	b = appendMoney(b, pl.cents*seats)
	b = appendKey(b, false, "is_active")
	b = strconv.AppendBool(b, (hv>>24)%10 != 0)
	b = appendKey(b, false, "tags")
	b = append(b, '[')
	for i := range int((hv >> 28) % 3) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, tags[(int(hv>>32)+i)%len(tags)])
	}
	b = append(b, ']')
	b = appendKey(b, false, "address")
	b = append(b, `{"line1":"`...)
	b = strconv.AppendInt(b, int64(1+(h>>40)%400), 10)
	b = append(b, ' ')
	b = append(b, pick(streets, h>>44)...)
	b = append(b, `","city":`...)
	b = appendStr(b, country.city)
	b = append(b, `,"postal_code":"`...)
	b = appendPad(b, int64((h>>48)%100000), 5)
	b = append(b, `","country":"`...)
	b = append(b, country.code...)
	b = append(b, `"}`...)
	b = appendKey(b, false, "created_at")
	b = append(b, '"')
	b = appendTime(b, g.plans[customers].createdAt(id))
	b = append(b, '"')
	b = appendKey(b, false, "updated_at")
	b = append(b, '"')
	b = appendTime(b, updatedAt)
	return append(b, `"}`...)
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == ' ' {
			c = '-'
		}
		b = append(b, c)
	}
	return b
}

// invoice renders version `version` of invoice id.
func (g *generator) invoice(b []byte, id, version, updatedAt int64) []byte {
	p := g.plans[invoices]
	h := hash3(g.cfg.Seed, 0x10, uint64(id), 0)
	createdEpoch := p.createdEpoch(id)
	createdAt := p.createdAt(id)
	cust := g.plans[customers]
	nCust := cust.initial + createdEpoch*cust.fresh
	customerID := int64(0)
	if nCust > 0 {
		customerID = 1 + int64(h%uint64(nCust))
	}
	currency := pick(countries, hash3(g.cfg.Seed, 0xC0, uint64(customerID), 0)>>16).currency
	status := "open"
	switch {
	case version == createdEpoch && (h>>8)%5 == 0:
		status = "draft"
	case version > createdEpoch:
		switch r := (h >> 12) % 20; {
		case r < 15:
			status = "paid"
		case r < 17:
			status = "void"
		default:
			status = "uncollectible"
		}
	}
	taxRate := []int64{0, 10, 20}[(h>>16)%3]

	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"number":"INV-`...)
	b = appendPad(b, id, 6)
	b = append(b, `","customer_id":`...)
	b = strconv.AppendInt(b, customerID, 10)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","currency":"`...)
	b = append(b, currency...)
	b = append(b, `","line_items":[`...)
	n := int(1 + (h>>20)%4)
	var subtotal int64
	for i := range n {
		hi := hash3(g.cfg.Seed, 0x11, uint64(id), uint64(i))
		prod := pick(products, hi)
		qty := int64(1 + (hi>>8)%5)
		amount := qty * prod.cents
		subtotal += amount
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"li_`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '_')
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `","description":`...)
		b = appendStr(b, prod.name)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, qty, 10)
		b = append(b, `,"unit_amount":`...)
		b = appendMoney(b, prod.cents)
		b = append(b, `,"amount":`...)
		b = appendMoney(b, amount)
		b = append(b, '}')
	}
	tax := subtotal * taxRate / 100
	total := subtotal + tax
	paid := int64(0)
	if status == "paid" {
		paid = total
	}
	b = append(b, `],"subtotal":`...)
	b = appendMoney(b, subtotal)
	b = append(b, `,"tax":`...)
	b = appendMoney(b, tax)
	b = append(b, `,"total":`...)
	b = appendMoney(b, total)
	b = append(b, `,"amount_paid":`...)
	b = appendMoney(b, paid)
	b = append(b, `,"amount_due":`...)
	b = appendMoney(b, total-paid)
	b = append(b, `,"issued_at":"`...)
	b = appendTime(b, createdAt)
	b = append(b, `","due_at":"`...)
	b = appendTime(b, createdAt+30*day)
	b = append(b, `","paid_at":`...)
	if status == "paid" {
		b = append(b, '"')
		b = appendTime(b, updatedAt)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"created_at":"`...)
	b = appendTime(b, createdAt)
	b = append(b, `","updated_at":"`...)
	b = appendTime(b, updatedAt)
	return append(b, `"}`...)
}

// event renders event id (created in epoch e).
func (g *generator) event(b []byte, id, e, createdAt int64) []byte {
	h := hash3(g.cfg.Seed, 0xE0, uint64(id), 0)
	cust := g.plans[customers]
	nCust := cust.initial + e*cust.fresh
	typ := pick(eventTypes, h)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	b = append(b, `","customer_id":`...)
	if nCust > 0 && (h>>8)%10 != 0 {
		b = strconv.AppendInt(b, 1+int64((h>>12)%uint64(nCust)), 10)
	} else {
		b = append(b, "null"...) // anonymous visitor
	}
	b = append(b, `,"session_id":"s_`...)
	b = strconv.AppendUint(b, (h>>20)%(1<<40), 36)
	b = append(b, `","created_at":"`...)
	b = appendTime(b, createdAt)
	b = append(b, `","properties":{"path":"`...)
	b = append(b, pick(paths, h>>28)...)
	b = append(b, `","referrer":`...)
	if (h>>32)%3 == 0 {
		b = append(b, '"')
		b = append(b, pick(referrers, h>>34)...)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"browser":"`...)
	b = append(b, pick(browsers, h>>38)...)
	b = append(b, `","os":"`...)
	b = append(b, pick(oses, h>>41)...)
	b = append(b, `","is_mobile":`...)
	b = strconv.AppendBool(b, (h>>44)%4 == 0)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, int64((h>>46)%30000), 10)
	b = append(b, `,"value":`...)
	if typ == "purchase" {
		b = appendMoney(b, int64(100+(h>>50)%50000))
	} else {
		b = append(b, "null"...)
	}
	return append(b, `}}`...)
}
