-- Store-and-forward queue and history (SQLite variant: AUTOINCREMENT so that
-- ids are never reused, BLOB bodies).
CREATE TABLE message (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    rcpt         TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    client_id    TEXT,
    content_type TEXT    NOT NULL DEFAULT '',
    body         BLOB    NOT NULL,
    datetime     BIGINT,
    received     BIGINT  NOT NULL,
    state        INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    updated      BIGINT  NOT NULL,
    UNIQUE (rcpt, sender, client_id)
);

CREATE TABLE history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner        TEXT    NOT NULL,
    peer         TEXT    NOT NULL,
    direction    INTEGER NOT NULL,
    mode         INTEGER NOT NULL,
    message_id   TEXT,
    content_type TEXT    NOT NULL DEFAULT '',
    body         BLOB    NOT NULL,
    t            BIGINT  NOT NULL,
    UNIQUE (owner, direction, message_id)
);
