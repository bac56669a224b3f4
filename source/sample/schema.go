package sample

import "time"

func timeParse(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

const customersSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":true,` +
	`"required":["id","updated_at"],"properties":{` +
	`"id":{"type":"integer"},` +
	`"name":{"type":"string"},` +
	`"email":{"type":"string"},` +
	`"company":{"type":["null","string"]},` +
	`"plan":{"type":"string","enum":["free","starter","pro","enterprise"]},` +
	`"seats":{"type":"integer"},` +
	`"mrr":{"type":"number"},` +
	`"is_active":{"type":"boolean"},` +
	`"tags":{"type":"array","items":{"type":"string"}},` +
	`"address":{"type":"object","properties":{"line1":{"type":"string"},"city":{"type":"string"},"postal_code":{"type":"string"},"country":{"type":"string"}}},` +
	`"created_at":{"type":"string","format":"date-time"},` +
	`"updated_at":{"type":"string","format":"date-time"}}}`

const invoicesSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":true,` +
	`"required":["id","updated_at"],"properties":{` +
	`"id":{"type":"integer"},` +
	`"number":{"type":"string"},` +
	`"customer_id":{"type":"integer"},` +
	`"status":{"type":"string","enum":["draft","open","paid","void","uncollectible"]},` +
	`"currency":{"type":"string"},` +
	`"line_items":{"type":"array","items":{"type":"object","properties":{` +
	`"id":{"type":"string"},"description":{"type":"string"},"quantity":{"type":"integer"},"unit_amount":{"type":"number"},"amount":{"type":"number"}}}},` +
	`"subtotal":{"type":"number"},"tax":{"type":"number"},"total":{"type":"number"},"amount_paid":{"type":"number"},"amount_due":{"type":"number"},` +
	`"issued_at":{"type":"string","format":"date-time"},` +
	`"due_at":{"type":"string","format":"date-time"},` +
	`"paid_at":{"type":["null","string"],"format":"date-time"},` +
	`"created_at":{"type":"string","format":"date-time"},` +
	`"updated_at":{"type":"string","format":"date-time"}}}`

const eventsSchema = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":true,` +
	`"required":["id","created_at"],"properties":{` +
	`"id":{"type":"integer"},` +
	`"type":{"type":"string"},` +
	`"customer_id":{"type":["null","integer"]},` +
	`"session_id":{"type":"string"},` +
	`"created_at":{"type":"string","format":"date-time"},` +
	`"properties":{"type":"object","properties":{` +
	`"path":{"type":"string"},"referrer":{"type":["null","string"]},"browser":{"type":"string"},"os":{"type":"string"},` +
	`"is_mobile":{"type":"boolean"},"duration_ms":{"type":"integer"},"value":{"type":["null","number"]}}}}}`
