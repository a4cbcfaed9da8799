package directory

import (
	"encoding/json"
	"errors"
	"testing"
)

// Connectors are directory records: written in one batch, loaded again by Open, and
// one Email (or SMS) connector replaces the previous one of its type.
func TestConnectorsReplaceAndReload(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	ctx := t.Context()
	smtp, err := d.CreateConnector(ctx, NewConnector{ConnectorID: "simple-mail-transfer-protocol", Type: ConnectorTypeEmail,
		Config: json.RawMessage(`{"host":"h"}`), SingleInstance: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateConnector(ctx, NewConnector{ConnectorID: "simple-mail-transfer-protocol", Type: ConnectorTypeEmail, SingleInstance: true}); !errors.Is(err, ErrConnectorSingleInstance) {
		t.Fatalf("second instance: %v", err)
	}
	sms, err := d.CreateConnector(ctx, NewConnector{ID: "my-sms", ConnectorID: "http-sms", Type: ConnectorTypeSMS})
	if err != nil || sms.ID != "my-sms" {
		t.Fatalf("sms %v %v", sms, err)
	}
	if _, err := d.CreateConnector(ctx, NewConnector{ID: "my-sms", ConnectorID: "http-email", Type: ConnectorTypeEmail}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate id: %v", err)
	}
	email, err := d.CreateConnector(ctx, NewConnector{ConnectorID: "http-email", Type: ConnectorTypeEmail})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.ConnectorByID(smtp.ID); ok {
		t.Fatal("the SMTP connector was not replaced by the new email connector")
	}
	on := true
	if _, err := d.UpdateConnector(ctx, email.ID, ConnectorPatch{Config: json.RawMessage(`{"endpoint":"https://x"}`), SyncProfile: &on}); err != nil {
		t.Fatal(err)
	}
	re := reopen(t, store)
	got, ok := re.ConnectorByID(email.ID)
	if n := len(re.Connectors()); n != 2 || !ok || string(got.Config) != `{"endpoint":"https://x"}` || !got.SyncProfile || got.Type != ConnectorTypeEmail {
		t.Fatalf("after reopen: %d connectors, %+v", n, got)
	}
	if err := re.DeleteConnector(ctx, "my-sms"); err != nil {
		t.Fatal(err)
	}
	if err := re.DeleteConnector(ctx, "my-sms"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
