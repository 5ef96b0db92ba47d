#!/usr/bin/env python3
"""README.md's example query, and a few more a frontend would send, against a running
`enamel serve`, through an outside GraphQL client (`gql`, PyPI) rather than our own code.

Usage: readme_queries.py URL KEY --patients N --appointments N --procedures N

URL is `http://HOST:PORT/graphql`; KEY an API key with scopes `read,context`; the counts
are what the synced office holds (the simulator's row counts), checked against
`totalCount`. Every answer is checked: shapes, counts (against the given numbers and
against each other), orderings, money, ids that round-trip through `node(id:)`, error
codes. Queries are validated by gql against the committed `schema.graphql` before they
are sent. Prints one JSON summary on standard output; exits 1 on the first failed check
(the reason on standard error).
"""

import argparse
import base64
import json
import re
import sys
import uuid
from datetime import datetime
from pathlib import Path

from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

ROOT = Path(__file__).resolve().parents[2]
USD = re.compile(r"^-?\d+\.\d{2}$")


class Failed(Exception):
    """A check did not hold."""


def check(condition, message):
    if not condition:
        raise Failed(message)


def readme_example():
    """The first ```graphql block after "Example (with a demo key):" in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"Example \(with a demo key\):\s*```graphql\n(.*?)```", text, re.S)
    check(found, "README.md has no ```graphql block after 'Example (with a demo key):'")
    return found.group(1)


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_money(value, where):
    check(isinstance(value, dict), f"{where}: not a Money object: {value!r}")
    check(value.get("currency") == "USD", f"{where}: currency {value.get('currency')!r}, expected USD")
    check(isinstance(value.get("amount"), str) and USD.match(value["amount"]), f"{where}: amount {value.get('amount')!r}")


def edges(connection):
    return [e["node"] for e in connection["edges"]]


class Api:
    """One gql client over HTTP, with the HTTP status of every answer recorded."""

    def __init__(self, url, key, schema):
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        self.client = Client(
            schema=schema,
            transport=RequestsHTTPTransport(url=url, headers=headers, timeout=30, retries=0),
        )
        self.statuses = []
        self.requests = 0

    def __enter__(self):
        self.session = self.client.__enter__()
        self.client.transport.session.hooks["response"].append(self._record)
        return self

    def __exit__(self, *exc):
        return self.client.__exit__(*exc)

    def _record(self, response, *_args, **_kwargs):
        self.statuses.append(response.status_code)

    def query(self, text, **variables):
        """The answer's `data`; gql raises `TransportQueryError` when it has errors."""
        self.requests += 1
        return self.session.execute(GraphQLRequest(text, variable_values=variables or None))

    def error(self, text, **variables):
        """The errors of a request that must fail: (errors, data)."""
        try:
            data = self.query(text, **variables)
        except TransportQueryError as e:
            return e.errors or [], e.data
        raise Failed(f"expected an error, got data {json.dumps(data)[:300]}")


def codes(errors):
    return [(e.get("extensions") or {}).get("code") for e in errors]


def all_pages(api, text, path, page=500, **variables):
    """Every node of a root connection, following `pageInfo.endCursor`; also its totalCount."""
    nodes, after, total, pages = [], None, None, 0
    while True:
        data = api.query(text, first=page, after=after, **variables)[path]
        pages += 1
        check(total is None or data["totalCount"] == total, f"{path}: totalCount changed between pages")
        total = data["totalCount"]
        nodes.extend(edges(data))
        info = data["pageInfo"]
        if not info["hasNextPage"]:
            break
        check(info["endCursor"], f"{path}: hasNextPage without an endCursor")
        check(pages < 1000, f"{path}: paging does not end")
        after = info["endCursor"]
    return nodes, total, pages


PATIENTS = """
query Patients($first: Int, $after: String) {
  patients(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id firstName lastName preferredName chartNumber } }
  }
}
"""

APPOINTMENTS = """
query Appointments($first: Int, $after: String, $from: DateTime, $to: DateTime) {
  appointments(first: $first, after: $after, from: $from, to: $to) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id startAt status patient { id } } }
  }
}
"""

PROCEDURE_TOTAL = "{ procedures(first: 1) { totalCount } }"

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Patient { firstName lastName }
    ... on Appointment { startAt patient { id } }
    ... on Procedure { fee { amount currency } patient { id } appointment { id } }
  }
}
"""

PATIENT = """
query Patient($id: ID!) {
  patient(id: $id) {
    id firstName lastName isGuarantor
    balance { amount currency minorUnits }
    family {
      id
      balance { amount currency }
      guarantor { id firstName isGuarantor }
      members(first: 500) { totalCount edges { node { id family { id } } } }
    }
    appointments(first: 500) {
      totalCount
      edges { node {
        id startAt status
        patient { id }
        procedures(first: 500) { totalCount edges { node { id patient { id } appointment { id } } } }
      } }
    }
    procedures(first: 500) {
      totalCount
      edges { node {
        id status performedOn
        fee { amount currency minorUnits }
        patient { id }
        appointment { id }
        procedureCode { id code description }
      } }
    }
  }
}
"""

FAMILY = """
query Family($id: ID!) {
  family(id: $id) { id guarantor { id } members(first: 500) { totalCount edges { node { id } } } }
}
"""


def run(args):
    schema = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    summary = {"checks": 0}

    def ok(condition, message):
        check(condition, message)
        summary["checks"] += 1

    with Api(args.url, args.key, schema) as api:
        # The office as a whole: totals match what the sync wrote.
        patients, total, pages = all_pages(api, PATIENTS, "patients", page=args.page)
        ok(total == args.patients, f"patients totalCount {total}, the office has {args.patients}")
        ok(len(patients) == total, f"paging patients gave {len(patients)} of {total}")
        ok(len({p["id"] for p in patients}) == total, "a patient appeared on two pages")
        ok(pages > 1, f"patients fit on one page of {args.page}: paging was not exercised")
        last_names = [p["lastName"].lower() for p in patients]
        ok(last_names == sorted(last_names), "patients are not in last-name order")
        appointments, appointment_total, _ = all_pages(api, APPOINTMENTS, "appointments")
        ok(appointment_total == args.appointments, f"appointments totalCount {appointment_total}, expected {args.appointments}")
        ok(len(appointments) == appointment_total, "paging appointments lost some")
        procedure_total = api.query(PROCEDURE_TOTAL)["procedures"]["totalCount"]
        ok(procedure_total == args.procedures, f"procedures totalCount {procedure_total}, expected {args.procedures}")
        summary.update(patients=total, appointments=appointment_total, procedures=procedure_total)

        # README.md's example, verbatim.
        term = "smith"
        expected = [
            p for p in patients
            if any(term in (p[f] or "").lower() for f in ("firstName", "lastName", "preferredName", "chartNumber"))
        ]
        ok(expected, "no patient matches 'smith': the README example would prove nothing")
        readme = api.query(readme_example())["patients"]
        ok(readme["totalCount"] == len(expected), f"README totalCount {readme['totalCount']}, {len(expected)} names contain 'smith'")
        found = edges(readme)
        ok(len(found) == min(5, len(expected)), f"README: {len(found)} patients for first: 5 of {len(expected)}")
        # The README asks for no ids: its patients are the first matches in last-name order.
        names = [(p["firstName"], p["lastName"]) for p in found]
        ok(names == [(p["firstName"], p["lastName"]) for p in expected[: len(found)]], f"README patients {names}")
        readme_ids = [p["id"] for p in expected[: len(found)]]
        readme_appointments = readme_procedures = 0
        for p in found:
            name = f"{p['firstName']} {p['lastName']}"
            check_money(p["balance"], f"README {name} balance")
            family = p["family"]
            ok(family is None or family["guarantor"] is None or family["guarantor"]["firstName"], f"README {name}: guarantor without a name")
            appts = edges(p["appointments"])
            ok(len(appts) <= 3, f"README {name}: {len(appts)} appointments for first: 3")
            starts = [instant(a["startAt"]) for a in appts]
            ok(starts == sorted(starts, reverse=True), f"README {name}: appointments not newest first")
            for a in appts:
                ok(a["status"] in {"SCHEDULED", "ARRIVED", "COMPLETE", "BROKEN", "CANCELLED", "UNSCHEDULED", "PLANNED"}, f"status {a['status']}")
                ok(a["provider"] is None or a["provider"]["lastName"], "a provider without a last name")
                procs = edges(a["procedures"])
                ok(len(procs) <= 5, f"README {name}: {len(procs)} procedures for first: 5")
                for proc in procs:
                    ok(USD.match(proc["fee"]["amount"]), f"procedure fee {proc['fee']}")
                    code = proc["procedureCode"]
                    ok(code is None or (code["code"] and code["description"]), f"procedure code {code}")
                readme_procedures += len(procs)
            readme_appointments += len(appts)
            ok(isinstance(p["context"]["text"], str) and p["context"]["text"].strip(), f"README {name}: empty context")
            # The context's text states the same balance as the patient's `balance` field.
            ok(f"Balance: {p['balance']['amount']} USD" in p["context"]["text"], f"README {name}: context and balance differ")
        ok(readme_appointments > 0, "README: no appointment came back for the Smiths")
        summary["readme"] = {
            "totalCount": readme["totalCount"],
            "patients": len(found),
            "appointments": readme_appointments,
            "procedures": readme_procedures,
        }

        # The same query, re-read by hand through patient(id:) with everything fetched.
        by_patient = {}
        for a in appointments:
            by_patient.setdefault(a["patient"]["id"], []).append(a)
        busiest = max(by_patient, key=lambda pid: len(by_patient[pid]))
        subjects = readme_ids + [busiest]
        details = {}
        for pid in subjects:
            p = api.query(PATIENT, id=pid)["patient"]
            details[pid] = p
            name = f"{p['firstName']} {p['lastName']}"
            ok(p["id"] == pid, "patient(id:) answered another patient")
            check_money(p["balance"], f"{name} balance")
            amount = p["balance"]["amount"]
            ok(round(float(amount) * 100) == p["balance"]["minorUnits"], f"{name}: {amount} is not {p['balance']['minorUnits']} cents")
            appts = edges(p["appointments"])
            ok(p["appointments"]["totalCount"] == len(appts) == len(by_patient.get(pid, [])),
               f"{name}: {p['appointments']['totalCount']} / {len(appts)} appointments, the root list has {len(by_patient.get(pid, []))}")
            ok({a["id"] for a in appts} == {a["id"] for a in by_patient.get(pid, [])}, f"{name}: appointment ids differ from the root list")
            starts = [instant(a["startAt"]) for a in appts]
            ok(starts == sorted(starts, reverse=True), f"{name}: appointments not newest first")
            procs = edges(p["procedures"])
            ok(p["procedures"]["totalCount"] == len(procs), f"{name}: procedures totalCount {p['procedures']['totalCount']}, {len(procs)} edges")
            proc_ids = {x["id"] for x in procs}
            for x in procs:
                ok(x["patient"]["id"] == pid, f"{name}: a procedure of another patient")
                check_money(x["fee"], f"{name} procedure fee")
                ok(x["procedureCode"] is None or re.match(r"^[A-Z]\w+$", x["procedureCode"]["code"]), f"code {x['procedureCode']}")
            appt_ids = {a["id"] for a in appts}
            for a in appts:
                ok(a["patient"]["id"] == pid, f"{name}: appointment of another patient")
                inner = edges(a["procedures"])
                ok(a["procedures"]["totalCount"] == len(inner), f"{name}: appointment procedures totalCount")
                for x in inner:
                    ok(x["id"] in proc_ids, f"{name}: an appointment's procedure is not among the patient's")
                    ok(x["appointment"]["id"] == a["id"], f"{name}: a procedure under the wrong appointment")
            attached = [x for x in procs if x["appointment"] is not None]
            ok(all(x["appointment"]["id"] in appt_ids for x in attached), f"{name}: a procedure points at an appointment not listed")
            ok(len(attached) == sum(a["procedures"]["totalCount"] for a in appts), f"{name}: procedures by appointment do not add up")
            # The README's first page is the start of the full list.
            for r, rid in zip(found, readme_ids):
                if rid == pid:
                    ok([a["startAt"] for a in edges(r["appointments"])] == [a["startAt"] for a in appts[:3]],
                       f"{name}: README appointments are not the first three")

            family = p["family"]
            if family is not None:
                check_money(family["balance"], f"{name} family balance")
                members = edges(family["members"])
                ok(family["members"]["totalCount"] == len(members), f"{name}: family totalCount")
                ok(pid in {m["id"] for m in members}, f"{name}: not a member of their own family")
                ok(all(m["family"]["id"] == family["id"] for m in members), f"{name}: a member of another family")
                g = family["guarantor"]
                ok(g is not None and g["isGuarantor"], f"{name}: the family's guarantor is not flagged isGuarantor")
                ok(g["id"] in {m["id"] for m in members}, f"{name}: the guarantor is not a family member")
                again = api.query(FAMILY, id=family["id"])["family"]
                ok(again["id"] == family["id"] and again["guarantor"]["id"] == g["id"], f"{name}: family(id:) differs")
                ok({m["id"] for m in edges(again["members"])} == {m["id"] for m in members}, f"{name}: family(id:) members differ")
        subject = details[busiest]
        summary["busiest"] = {
            "appointments": subject["appointments"]["totalCount"],
            "procedures": subject["procedures"]["totalCount"],
        }
        ok(subject["appointments"]["totalCount"] >= 2, "the busiest patient has fewer than 2 appointments")

        # node(id:) round trips: a patient, an appointment and a procedure.
        p = api.query(NODE, id=busiest)["node"]
        ok(p["__typename"] == "Patient" and p["id"] == busiest, f"node(patient) gave {p}")
        ok((p["firstName"], p["lastName"]) == (subject["firstName"], subject["lastName"]), "node(patient) names differ")
        a = edges(subject["appointments"])[0]
        n = api.query(NODE, id=a["id"])["node"]
        ok(n["__typename"] == "Appointment" and n["id"] == a["id"] and n["startAt"] == a["startAt"], f"node(appointment) gave {n}")
        ok(n["patient"]["id"] == busiest, "node(appointment) belongs to another patient")
        procs = edges(subject["procedures"])
        ok(procs, "the busiest patient has no procedures")
        n = api.query(NODE, id=procs[0]["id"])["node"]
        ok(n["__typename"] == "Procedure" and n["fee"] == {k: procs[0]["fee"][k] for k in ("amount", "currency")}, f"node(procedure) gave {n}")
        ok(n["patient"]["id"] == busiest, "node(procedure) belongs to another patient")

        # appointments(from:, to:) against the same window counted by hand.
        starts = sorted(instant(a["startAt"]) for a in appointments)
        lo, hi = starts[len(starts) // 4], starts[len(starts) // 2]
        iso = lambda t: t.isoformat().replace("+00:00", "Z")
        window, window_total, _ = all_pages(api, APPOINTMENTS, "appointments", page=100, **{"from": iso(lo), "to": iso(hi)})
        by_hand = [a for a in appointments if lo <= instant(a["startAt"]) < hi]
        ok(window_total == len(by_hand) == len(window), f"window [{iso(lo)}, {iso(hi)}): {window_total} / {len(window)}, {len(by_hand)} by hand")
        ok(0 < window_total < appointment_total, f"window holds {window_total} of {appointment_total}: not a filter")
        ok({a["id"] for a in window} == {a["id"] for a in by_hand}, "the window holds other appointments")
        ws = [instant(a["startAt"]) for a in window]
        ok(ws == sorted(ws), "appointments(from:, to:) are not in start order")
        summary["window"] = {"from": iso(lo), "to": iso(hi), "appointments": window_total}

        # Errors: an unknown patient, a malformed id, no key, a wrong key.
        kind, _ = base64.urlsafe_b64decode(busiest + "=" * (-len(busiest) % 4)).decode().split(":", 1)
        unknown = base64.urlsafe_b64encode(f"{kind}:{uuid.uuid4()}".encode()).decode().rstrip("=")
        errors, data = api.error(NODE, id=unknown)
        ok(data is None or data.get("node") is None, f"node(id:) of an unknown patient: data {data}")
        ok(codes(errors) == ["NOT_FOUND"], f"node(id:) of an unknown patient: codes {codes(errors)}")
        errors, data = api.error("query($id: ID!) { patient(id: $id) { id } }", id=unknown)
        ok(data is None, f"unknown patient: data {data}, expected null")
        ok(codes(errors) == ["NOT_FOUND"], f"unknown patient: codes {codes(errors)}")
        ok(errors[0].get("path") == ["patient"], f"unknown patient: error path {errors[0].get('path')}")
        errors, _ = api.error("query($id: ID!) { patient(id: $id) { id } }", id="not-an-id")
        ok(codes(errors) == ["BAD_USER_INPUT"], f"malformed id: codes {codes(errors)}")
        ok(all(s == 200 for s in api.statuses), f"statuses {sorted(set(api.statuses))} with a key")
        summary["requests"] = api.requests

    refused = {}
    for label, key in (("no key", None), ("wrong key", "enamel_not_a_key")):
        with Api(args.url, key, schema) as anonymous:
            errors, data = anonymous.error("{ viewer { name } }")
            ok(anonymous.statuses == [401], f"{label}: HTTP {anonymous.statuses}, expected [401]")
            ok(data is None and codes(errors) == ["UNAUTHENTICATED"], f"{label}: {codes(errors)}")
            refused[label] = anonymous.statuses[0]
    summary["unauthenticated"] = refused
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--appointments", type=int, required=True)
    parser.add_argument("--procedures", type=int, required=True)
    parser.add_argument("--page", type=int, default=40, help="patients per page when listing them all")
    args = parser.parse_args()
    try:
        summary = run(args)
    except Failed as e:
        print(f"check failed: {e}", file=sys.stderr)
        return 1
    summary["ok"] = True
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
