#!/usr/bin/env python3
"""The README's end-to-end ticket scenario over HTTP, against a running Casewise server.

register → triage with proposal → assign → wait (reason) → escalate → on-site visit →
resolve with an article → customer confirms → survey → closed; then the ticket appears
in suggestions. Standard library only:

    python scripts/scenario.py --token STAFF_TOKEN [--customer-token TOKEN] [--url http://127.0.0.1:8000]

STAFF_TOKEN acts as the dispatcher/engineers (a manager or admin sees every team's
queue); with a customer token the customer registers the ticket, confirms the fix and
answers the survey (otherwise the staff token records them, e.g. taken by phone).
`casewise demo` prints the demo accounts; `casewise create-token sun.li` makes a token.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

TITLE = "仓库扫码枪打印标签时打印机脱机 0x0000011b"
DESCRIPTION = "仓库二楼的共享打印机今天早上开始一直脱机，打印标签报错 0x0000011b，重启打印机也没用。"


class Client:
    """A tiny JSON client that prints each call."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            sys.exit(f"{method} {path} -> {error.code}: {error.read().decode()}")


def step(label: str, ticket: dict[str, Any]) -> None:
    """Print where the ticket is now."""
    print(f"{label:<34} {ticket['number']}  status={ticket['status']:<12} team={ticket.get('team')} "
          f"assignee={ticket.get('assignee')}")


def run(client: Client, customer: Client | None = None) -> float:
    """Walk one ticket through its whole life; returns seconds until it was suggestible."""
    customer = customer or client
    ticket = customer.call("POST", "/api/v1/tickets", {
        "title": TITLE, "description": DESCRIPTION, "channel": "web" if customer is not client else "phone",
        "product": "printer", "impact": "medium", "urgency": "high", "error_codes": ["0x0000011b"]})
    proposal = ticket["triage_proposal"]
    step("registered", ticket)
    print(f"  triage proposal: {json.dumps({k: proposal[k] for k in ('category', 'priority', 'team')}, ensure_ascii=False)}")
    tid = ticket["id"]
    step("triaged (proposal accepted)", client.call("POST", f"/api/v1/tickets/{tid}/triage", {"accept": True}))
    step("assigned (least-loaded, skilled)", client.call("POST", f"/api/v1/tickets/{tid}/transitions", {"to": "assigned"}))
    step("in progress", client.call("POST", f"/api/v1/tickets/{tid}/transitions", {"to": "in_progress"}))
    step("waiting (C. customer)", client.call("POST", f"/api/v1/tickets/{tid}/transitions", {
        "to": "waiting", "waiting_reason": "customer", "reason": "等客户提供打印服务器的管理员账号"}))
    step("escalated L1 → L2", client.call("POST", f"/api/v1/tickets/{tid}/transitions", {
        "to": "escalated", "reason": "驱动和补丁都已排查，需要二线现场处理"}))
    step("assigned in L2", client.call("POST", f"/api/v1/tickets/{tid}/transitions", {"to": "assigned"}))
    visit = client.call("POST", f"/api/v1/tickets/{tid}/visits", {
        "scheduled_at": "2026-11-24T10:00:00+08:00", "place": "仓库二楼", "engineer": "chen.gang",
        "tools": ["笔记本", "USB 线"], "spare_parts": ["打印机网卡"]})
    client.call("PATCH", f"/api/v1/tickets/{tid}/visits/{visit['id']}", {
        "outcome": "改为 TCP/IP 直连后恢复", "service_record": "卸载共享连接，添加标准 TCP/IP 端口", "signed_by": "刘主管"})
    print(f"  on-site visit {visit['id']} scheduled and signed off")
    found = client.call("POST", "/api/v1/suggest", {"title": TITLE, "description": DESCRIPTION})
    articles = [a["id"] for a in found["articles"][:1]]
    step("resolved (with article)", client.call("POST", f"/api/v1/tickets/{tid}/transitions", {
        "to": "resolved", "solution": "在客户端卸载共享打印机，改用标准 TCP/IP 端口直连打印机 IP，标签打印恢复。",
        "root_cause": "Windows 更新后共享打印机 RPC 认证变更导致 0x0000011b", "article_ids": articles}))
    resolved_at = time.monotonic()
    step("closed (customer confirmed)", customer.call("POST", f"/api/v1/tickets/{tid}/transitions", {
        "to": "closed", "close_reason": "confirmed"}))
    customer.call("POST", f"/api/v1/tickets/{tid}/survey", {"score": 5, "comment": "上门很及时"})
    print("  survey: 5/5")
    events = client.call("GET", f"/api/v1/tickets/{tid}/events")
    print(f"  timeline: {len(events)} audit events: {', '.join(e['action'] for e in events)}")
    return _wait_until_suggested(client, ticket["number"], resolved_at)


def _wait_until_suggested(client: Client, number: str, since: float, limit: float = 30.0) -> float:
    while time.monotonic() - since < limit:
        found = client.call("POST", "/api/v1/suggest", {"title": TITLE, "description": DESCRIPTION, "k": 10})
        if any(case["number"] == number for case in found["cases"]):
            waited = time.monotonic() - since
            print(f"suggestible {waited:.2f} s after it was resolved")
            return waited
        time.sleep(0.1)
    sys.exit(f"{number} did not appear in suggestions within {limit:.0f} s")


def main() -> None:
    """Parse arguments and run the scenario."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="staff API token (casewise create-token sun.li)")
    parser.add_argument("--customer-token", default=None, help="a requester's API token")
    args = parser.parse_args()
    customer = Client(args.url, args.customer_token) if args.customer_token else None
    run(Client(args.url, args.token), customer)


if __name__ == "__main__":
    main()
