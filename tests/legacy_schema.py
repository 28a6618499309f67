"""The earlier backend's three PostgreSQL schemas, verbatim from its `create_all` output."""

SHAPE_1 = """
CREATE TABLE users (
	id VARCHAR NOT NULL,
	email VARCHAR NOT NULL,
	hashed_password VARCHAR NOT NULL,
	whatsapp_number VARCHAR NOT NULL,
	store_url VARCHAR,
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
	updated_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	UNIQUE (store_url)
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE TABLE products (
	id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	description TEXT,
	price FLOAT NOT NULL,
	image_url_1 VARCHAR,
	image_url_2 VARCHAR,
	image_url_3 VARCHAR,
	image_url_4 VARCHAR,
	image_url_5 VARCHAR,
	is_available BOOLEAN,
	click_count INTEGER NOT NULL,
	user_id VARCHAR NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
	updated_at TIMESTAMP WITH TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES users (id)
);
"""

STORE_COLUMNS_SCRIPT = """
ALTER TABLE users ADD COLUMN store_name VARCHAR(255);
ALTER TABLE users ADD COLUMN store_slug VARCHAR(100) UNIQUE;
CREATE INDEX IF NOT EXISTS idx_users_store_slug ON users(store_slug);
ALTER TABLE users ADD COLUMN banner_url TEXT;
"""

SHAPE_2 = SHAPE_1 + STORE_COLUMNS_SCRIPT

SHAPE_3 = """
CREATE TABLE products (
    id character varying NOT NULL,
    name character varying NOT NULL,
    description text,
    price double precision NOT NULL,
    image_url_1 character varying,
    image_url_2 character varying,
    image_url_3 character varying,
    image_url_4 character varying,
    image_url_5 character varying,
    is_available boolean,
    click_count integer NOT NULL,
    user_id character varying NOT NULL,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone
);

CREATE TABLE users (
    id character varying NOT NULL,
    email character varying NOT NULL,
    hashed_password character varying NOT NULL,
    whatsapp_number character varying NOT NULL,
    store_url character varying,
    store_name character varying,
    store_slug character varying,
    banner_url character varying,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone
);

ALTER TABLE ONLY products
    ADD CONSTRAINT products_pkey PRIMARY KEY (id);

ALTER TABLE ONLY users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY users
    ADD CONSTRAINT users_store_url_key UNIQUE (store_url);

CREATE UNIQUE INDEX ix_users_email ON users USING btree (email);

CREATE UNIQUE INDEX ix_users_store_slug ON users USING btree (store_slug);

ALTER TABLE ONLY products
    ADD CONSTRAINT products_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id);
"""

SHAPES = {"shape1": SHAPE_1, "shape2": SHAPE_2, "shape3": SHAPE_3}
