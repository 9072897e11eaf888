"""Use cases that span apps, in one place above them (as allauth keeps its
flows): sign-up in one or two steps with its orphan event and counters, a
password login, a completed password reset and an OTP login, each of which
lifts the OTP failure budget when it proves the mailbox. Views call a flow;
a flow calls the domain apps' services and selectors, which never call each
other sideways (docs/architecture.md)."""
