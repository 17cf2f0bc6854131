-- Accounts, digest credentials and registrar bindings. Shared by SQLite and
-- PostgreSQL: only TEXT, INTEGER and BIGINT columns. Times are Unix
-- microseconds.
CREATE TABLE account (
    domain       TEXT   NOT NULL,
    username     TEXT   NOT NULL,
    display_name TEXT   NOT NULL DEFAULT '',
    created      BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    PRIMARY KEY (domain, username)
);

CREATE TABLE credential (
    domain    TEXT NOT NULL,
    username  TEXT NOT NULL,
    realm     TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    ha1       TEXT NOT NULL,
    PRIMARY KEY (domain, username, realm, algorithm),
    FOREIGN KEY (domain, username) REFERENCES account (domain, username) ON DELETE CASCADE
);

-- bkey identifies a binding within its AOR: "i:<instance>;<reg-id>" for
-- RFC 5626 flows, "c:<contact>" otherwise (RFC 3261 section 10.3).
CREATE TABLE binding (
    aor        TEXT    NOT NULL,
    bkey       TEXT    NOT NULL,
    contact    TEXT    NOT NULL,
    instance   TEXT    NOT NULL DEFAULT '',
    reg_id     INTEGER NOT NULL DEFAULT 0,
    call_id    TEXT    NOT NULL DEFAULT '',
    cseq       BIGINT  NOT NULL DEFAULT 0,
    q          INTEGER NOT NULL DEFAULT 0,
    expires    BIGINT  NOT NULL,
    node       TEXT    NOT NULL DEFAULT '',
    received   TEXT    NOT NULL DEFAULT '',
    path       TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    updated    BIGINT  NOT NULL,
    PRIMARY KEY (aor, bkey)
);
CREATE INDEX binding_expires ON binding (expires);
CREATE INDEX binding_node ON binding (node);
