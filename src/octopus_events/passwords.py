"""Password hashing and opaque session tokens.

Passwords are hashed with argon2id (argon2-cffi). Session and vault tokens are random, opaque
strings that the server stores only as SHA-256 digests, so a leaked database does not hand out
live sessions.

A stored hash names its own scheme by its prefix (`$argon2id$...`). Verification picks the
scheme from that prefix, so hashes brought in from elsewhere are verified as they are: Octopus
Photos 0.6.1 stored bcrypt (`$2b$12$...`, through passlib), and `octopus import --from-octopus-0.6`
keeps those hashes. The login path then replaces them with a current argon2id hash
(`needs_rehash`), so a bcrypt hash lives only until its user's first sign-in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "KDF_SLOTS",
    "PASSWORD_MEMORY_COST_KIB",
    "PASSWORD_PARALLELISM",
    "PASSWORD_TIME_COST",
    "dummy_verify",
    "hash_password",
    "kdf_slot",
    "needs_rehash",
    "new_token",
    "token_digest",
    "verify_password",
]

# Why these parameters: the target is a 2-core machine with 1-2 GB of RAM that also serves the
# UI, decodes JPEGs and runs projectors.
# - memory_cost 32 MiB is above OWASP's argon2id floor (19 MiB, t=2) yet small enough that the
#   two hashes we allow at once (see kdf_slot) cost 64 MiB, not a noticeable part of 1 GB.
# - time_cost 2 keeps one hash around 0.1-0.15 s on a modern core and well under a second on
#   an old laptop, so login stays interactive and a burst of failed logins cannot pin the CPU
#   for long (the HTTP layer rate-limits on top of this).
# - parallelism 1: one hash uses one core, leaving the other core for everything else.
# Changing these is safe: needs_rehash() reports old hashes and the login path upgrades them.
PASSWORD_MEMORY_COST_KIB = 32 * 1024
PASSWORD_TIME_COST = 2
PASSWORD_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=PASSWORD_TIME_COST,
    memory_cost=PASSWORD_MEMORY_COST_KIB,
    parallelism=PASSWORD_PARALLELISM,
)

# A real hash made with exactly the parameters above, of a random password nobody knows. It is a
# constant (not computed at import) so start-up stays fast and the very first login for an
# unknown user costs the same as every other one. A test checks that its parameters still match
# the hasher's, so it cannot silently become cheaper than a real verification.
_DUMMY_HASH = (
    "$argon2id$v=19$m=32768,t=2,p=1$"
    "Kku74SboDdFisX6nQBNFMw$A1uVIKOL4rltuhzN3BYRTUzU4H8ID6rGXRbLL4Iy3LE"
)

# argon2-cffi releases the GIL while hashing, so N threads hashing at once would need N times the
# memory. On a 1 GB machine an unlucky burst of logins must not push us into swap, so every
# memory-hard derivation (password hashes here, vault passphrase derivations in vaultcrypto)
# takes one of at most two slots (64 MiB of password hashes), fewer on a single core.
KDF_SLOTS = max(1, min(os.cpu_count() or 1, 2))
_KDF_SLOTS = threading.BoundedSemaphore(KDF_SLOTS)


@contextlib.contextmanager
def kdf_slot() -> Iterator[None]:
    """Hold one of the process-wide slots for a memory-hard key derivation.

    Blocks until a slot is free. Use it around any argon2 call so that concurrent requests cannot
    multiply its memory use beyond what a weak machine can afford. Not re-entrant: a thread that
    holds a slot and asks for another can deadlock with its peers, so take it only around the
    derivation itself (`hash_password` and `verify_password` already do).
    """
    with _KDF_SLOTS:
        yield


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id; return the self-describing PHC string to store."""
    with kdf_slot():
        return _hasher.hash(password)


def _verify_argon2(password_hash: str, password: str) -> bool:
    try:
        with kdf_slot():
            return _hasher.verify(password_hash, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        # `from None`: the argon2 exception chain is dropped so nothing about the inputs ends up
        # in a traceback or a log line.
        raise ValueError("stored password hash is not a valid argon2 hash") from None


# bcrypt looks at the first 72 bytes of a password only. passlib with bcrypt 3 (what 0.6.1 ran)
# cut longer ones there silently; bcrypt 5 refuses them instead, so we cut as 0.6.1 did, or a
# user with a long password could never sign in after moving in.
_BCRYPT_MAX_BYTES = 72
_BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$")


def _verify_bcrypt(password_hash: str, password: str) -> bool:
    import bcrypt  # loaded on the first bcrypt sign-in only: most libraries never see one

    if not _BCRYPT_HASH.match(password_hash):
        raise ValueError("stored password hash is not a valid bcrypt hash") from None
    # $2$ and $2y$/$2x$ are the same algorithm as $2b$ for the passwords passlib produced.
    normalised = "$2b$" + password_hash.split("$", 2)[2]
    try:
        with kdf_slot():  # cost 12 is ~0.25 s of one core: it takes a slot like argon2 does
            return bcrypt.checkpw(password.encode("utf-8")[:_BCRYPT_MAX_BYTES], normalised.encode("ascii"))
    except ValueError:
        raise ValueError("stored password hash is not a valid bcrypt hash") from None


# Verifiers by hash prefix: argon2 (ours) and bcrypt (brought from Octopus Photos 0.6.1).
# needs_rehash() reports every non-argon2id hash as outdated, so bcrypt ones fade out.
_SCHEMES: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("$argon2", _verify_argon2),
    ("$2", _verify_bcrypt),
)


def verify_password(password_hash: str, password: str) -> bool:
    """Return True if ``password`` matches ``password_hash``, False if it does not.

    The scheme is chosen by the hash's prefix. A wrong password is an ordinary outcome, never an
    exception. A stored hash of no known scheme, or a malformed one, is a bug or data corruption;
    that raises ``ValueError`` with a message that mentions neither the password nor the hash.
    """
    for prefix, verify in _SCHEMES:
        if password_hash.startswith(prefix):
            return verify(password_hash, password)
    raise ValueError("stored password hash is of no known scheme") from None


def needs_rehash(password_hash: str) -> bool:
    """Return True if ``password_hash`` is not argon2id with the current parameters.

    The login path calls it after a successful verification and, if True, stores
    ``hash_password(password)`` instead, so weaker or foreign hashes fade out as users sign in.
    """
    if not password_hash.startswith("$argon2id$"):
        if any(password_hash.startswith(prefix) for prefix, _ in _SCHEMES):
            return True
        raise ValueError("stored password hash is of no known scheme") from None
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        raise ValueError("stored password hash is not a valid argon2 hash") from None


def dummy_verify() -> None:
    """Spend the same time as a real ``verify_password`` and always fail.

    Call it when the username does not exist, so that "no such user" and "wrong password" take
    the same time and login timing does not reveal which usernames exist.
    """
    verify_password(_DUMMY_HASH, secrets.token_urlsafe(16))


def new_token() -> str:
    """Return a new opaque, URL-safe token with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which ``token`` is stored and looked up.

    A plain hash (no salt, no argon2) is enough because tokens carry 256 random bits: there is
    nothing to brute-force, and the lookup must be a single indexed equality on the digest.
    Comparing digests by database lookup does not leak the token through timing, since an
    attacker cannot choose inputs that produce chosen digest prefixes.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
