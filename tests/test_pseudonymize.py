"""Pseudonyms are consistent within a session, unrelated across sessions, and restore."""

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from veil import Pseudonymizer, SessionExpiredError, StreamRestorer, Vault
from veil.pseudo.mentions import SOURCE as MENTION
from veil.pseudo.restore import Restorer

KEY = Vault.generate_key()


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    with Vault(tmp_path / "vault.db", key=KEY) as v:
        yield v


@pytest.fixture
def tokens(vault: Vault) -> Pseudonymizer:
    return Pseudonymizer(vault)


def test_same_value_same_token_across_turns_and_variants(tokens: Pseudonymizer) -> None:
    first = tokens.pseudonymize("I am John Smith, call +1 (555) 010-2030.", "s1")
    second = tokens.pseudonymize("JOHN SMITH again; phone 555-010-2030", "s1")
    assert first.text == "I am <PERSON_1>, call <PHONE_NUMBER_1>."
    assert second.text == "<PERSON_1> again; phone <PHONE_NUMBER_1>"
    other = tokens.pseudonymize("Maria Garcia wrote.", "s1")
    assert other.text == "<PERSON_2> wrote."


def test_sessions_are_not_linked(vault: Vault) -> None:
    surrogates = Pseudonymizer(vault, style="surrogate")
    a = surrogates.pseudonymize("Email jane.roe@example.org now", "a")
    b = surrogates.pseudonymize("Email jane.roe@example.org now", "b")
    assert "jane.roe" not in a.text and "jane.roe" not in b.text
    assert a.text != b.text
    assert surrogates.pseudonymize("jane.roe@example.org", "a").text in a.text


def test_surrogates_keep_the_shape(vault: Vault) -> None:
    out = Pseudonymizer(vault, style="surrogate").pseudonymize(
        "PATIENT: JOHN SMITH, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00",
        "s").text
    from stdnum import iban, luhn

    card = out.split("card ")[1].split(",")[0]
    account = out.split("IBAN ")[1]
    assert luhn.is_valid(card.replace(" ", "")) and card != "4111 1111 1111 1111"
    assert iban.is_valid(account) and account.startswith("DE") and len(account) == 27
    name = out.split("PATIENT: ")[1].split(",")[0]
    assert name.isupper() and name != "JOHN SMITH"


@pytest.mark.parametrize("style", ["token", "surrogate"])
def test_restore_puts_originals_back(vault: Vault, style: str) -> None:
    p = Pseudonymizer(vault, style=style)  # type: ignore[arg-type]
    text = ("Dear Mr. John Smith, your card 4111 1111 1111 1111 and phone +44 20 7946 0958 "
            "(john.smith@example.com) are on file.")
    protected = p.pseudonymize(text, "s")
    for value in ("John Smith", "4111", "7946", "john.smith"):
        assert value not in protected.text
    assert p.restore(protected.text, "s") == text


def test_restore_copes_with_what_models_do_to_tokens(tokens: Pseudonymizer) -> None:
    tokens.pseudonymize("John Smith <john@example.com>", "s")
    answer = ("PERSON_1's mail is [EMAIL_ADDRESS_1]; <Person_1> and {person_1} and "
              "<<PERSON_1>> and (<EMAIL_ADDRESS_1>).")
    assert tokens.restore(answer, "s") == (
        "John Smith's mail is john@example.com; John Smith and John Smith and John Smith and "
        "(john@example.com).")


def test_restore_leaves_look_alikes_alone(tokens: Pseudonymizer) -> None:
    tokens.pseudonymize("John Smith", "s")
    for text in ("PERSON_2 and PERSON_12", "APERSON_1", "PERSON_1x", "MY_PERSON_1", "<PERSONS_1>"):
        assert tokens.restore(text, "s") == text


def test_restore_never_treats_a_pseudonym_as_a_regex() -> None:
    restorer = Restorer({"+1 (555) 010.2030": "orig-phone", "<PERSON_1>": "Jane"})
    assert restorer.restore("call +1 (555) 010.2030 or +1 (555) 010x2030") == (
        "call orig-phone or +1 (555) 010x2030")


def test_user_text_that_looks_like_a_token_round_trips(tokens: Pseudonymizer) -> None:
    text = "Template: Hello <PERSON_1>, from John Smith. Also EMAIL_ADDRESS_1 literally."
    protected = tokens.pseudonymize(text, "s")
    assert protected.text == (
        "Template: Hello <LITERAL_1>, from <PERSON_1>. Also <LITERAL_2> literally.")
    assert tokens.restore(protected.text, "s") == text


def test_expired_session_is_a_clear_error(tmp_path: Path) -> None:
    now = [1000.0]
    with Vault(tmp_path / "v.db", key=KEY, ttl_seconds=60, clock=lambda: now[0]) as v:
        p = Pseudonymizer(v)
        protected = p.pseudonymize("John Smith", "s")
        now[0] += 61
        with pytest.raises(SessionExpiredError):
            p.restore(protected.text, "s")


def test_stream_restores_tokens_split_anywhere() -> None:
    originals = {"<PERSON_1>": "Jane Roe", "<EMAIL_ADDRESS_12>": "jane@example.org"}
    answer = "Hi <PERSON_1>, write to [EMAIL_ADDRESS_12]; PERSON_1's ok. PER is not one."
    expected = Restorer(originals).restore(answer)
    for size in range(1, 12):
        stream = StreamRestorer(originals)
        chunks = [answer[i : i + size] for i in range(0, len(answer), size)]
        assert "".join(stream.feed(c) for c in chunks) + stream.flush() == expected


def test_surrogates_with_letters_that_fold_to_others_are_restored() -> None:
    """"ß" case-folds to "ss": a German surrogate name must still be found in the answer."""
    originals = {"Maribel Weiß": "John Smith"}
    answer = "Dear MARIBEL WEIß, Maribel Weiß's file is ready."
    expected = "Dear John Smith, John Smith's file is ready."
    assert Restorer(originals).restore(answer) == expected
    stream = StreamRestorer(originals)
    assert "".join(stream.feed(c) for c in answer) + stream.flush() == expected


def test_stream_holds_back_only_what_could_become_a_token() -> None:
    stream = StreamRestorer({"<PERSON_1>": "Jane"})
    assert stream.feed("Hello wor") == "Hello wor"
    assert stream.feed("ld <PER") == "ld "
    assert stream.feed("SON_1> bye") == "Jane bye"
    assert stream.flush() == ""


VALUES = st.sampled_from([
    "John Smith", "jane.roe@example.org", "+44 20 7946 0958", "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00", "192.168.10.24", "https://example.com/x", "<PERSON_1>",
    "PERSON_2", "Maria Garcia",
])
FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                 max_size=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.tuples(FILLER, VALUES), max_size=5), tail=FILLER,
       chunk=st.integers(1, 9), style=st.sampled_from(["token", "surrogate"]))
def test_round_trip_for_any_text(vault: Vault, parts: list[tuple[str, str]], tail: str,
                                 chunk: int, style: str) -> None:
    text = "".join(f"{f} {v} " for f, v in parts) + tail
    p = Pseudonymizer(vault, style=style)  # type: ignore[arg-type]
    # a session of its own: restoring gives the form first seen in the session, and the
    # vault fixture lives across examples
    session = f"prop-{style}-{uuid.uuid4()}"
    # a partial mention ("AO" beside the name "John Smith Ao") takes the full name's
    # pseudonym and comes back as the full name, by design (tests/test_mentions.py); the
    # round trip is exact for every other text
    assume(not any(s.source == MENTION for s in p.scan(text, session)))
    protected = p.pseudonymize(text, session).text
    assert p.restore(protected, session) == text
    stream = p.stream(session)
    pieces = [protected[i : i + chunk] for i in range(0, len(protected), chunk)]
    assert "".join(stream.feed(x) for x in pieces) + stream.flush() == text


def test_stream_does_not_split_a_surrogate_that_ends_like_a_token_start() -> None:
    """"l " of "Amaya Hall " could start the token "LITERAL_1": what is held back must
    not cut the surrogate before it, or its first part goes out unrestored."""
    originals = {"<LITERAL_1>": "PERSON_2", "Amaya Hall": "Maria Garcia"}
    answer = "x <LITERAL_1> and Amaya Hall said"
    stream = StreamRestorer(originals)
    restored = "".join(stream.feed(c) for c in answer) + stream.flush()
    assert restored == "x PERSON_2 and Maria Garcia said"
