"""forwarder/replies.py: every reply is a Reply value whose string is its SMTP line."""

from __future__ import annotations

import pickle

import pytest

from forwarder import replies
from forwarder.replies import Reply

NAMED = {name: value for name, value in vars(replies).items() if name.isupper()}
REPLIES = {name: value for name, value in NAMED.items() if isinstance(value, str)}


def test_every_named_reply_is_a_reply_value() -> None:
    assert len(REPLIES) > 40
    for name, reply in REPLIES.items():
        assert isinstance(reply, Reply), name
        assert 200 <= reply.code < 600, name
        line = f"{reply.code} {reply.enhanced} {reply.text}" if reply.enhanced else None
        assert reply == (line or f"{reply.code} {reply.text}"), name
        # RFC 3463 2: the class digit of the enhanced code is the reply's own.
        assert not reply.enhanced or reply.enhanced[0] == str(reply.code)[0], name
        assert replies.parse(str(reply)) == reply and replies.parse(str(reply)).code == reply.code


def test_fields_and_kind() -> None:
    reply = Reply(550, "5.7.1", "Relaying denied")
    assert reply == "550 5.7.1 Relaying denied" and isinstance(reply, str)
    assert (reply.code, reply.enhanced, reply.text) == (550, "5.7.1", "Relaying denied")
    assert reply.permanent and not reply.temporary and not reply.ok
    assert replies.FORWARD_DEFERRED.temporary and not replies.FORWARD_DEFERRED.permanent
    assert replies.DELIVERED.ok and not replies.START_MAIL_INPUT.ok
    assert replies.START_MAIL_INPUT == "354 End data with <CR><LF>.<CR><LF>"
    assert replies.START_MAIL_INPUT.enhanced == ""
    assert pickle.loads(pickle.dumps(reply)).enhanced == "5.7.1"


@pytest.mark.parametrize(
    ("line", "code", "enhanced", "text"),
    [
        ("550 5.1.1 No such user", 550, "5.1.1", "No such user"),
        ("451 Try later", 451, "", "Try later"),
        ("250-PIPELINING", 250, "", ""),
        ("garbage", 451, "", ""),
        ("552 9.9.9 Odd", 552, "", "9.9.9 Odd"),
    ],
)
def test_parse_a_reply_from_elsewhere(line: str, code: int, enhanced: str, text: str) -> None:
    parsed = replies.parse(line)
    assert (parsed.code, parsed.enhanced, parsed.text) == (code, enhanced, text)


def test_parse_returns_a_reply_as_it_is() -> None:
    assert replies.parse(replies.DENIED_CLIENT) is replies.DENIED_CLIENT


def test_built_replies_are_values() -> None:
    failed = replies.forward_failed("4.1.1", "refused <a@b.example>\x1b")
    assert (failed.code, failed.enhanced) == (550, "5.0.0")  # a 4.x.x cannot go with 550
    assert failed.text == "Forwarding failed: refused <<address>>"
    listed = replies.blocklisted_client("zen.test")
    assert (listed.code, listed.enhanced) == (554, "5.7.1") and "zen.test" in listed.text
    assert replies.blocklisted_sender("dbl.test").permanent
    assert replies.hello("mx.example.net") == "250 mx.example.net"
    assert replies.hello("mx.example.net").ok
