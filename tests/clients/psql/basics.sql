-- Everyday psql work: DDL, DML, types, errors, transactions, savepoints, notices, COPY.
\set ON_ERROR_STOP off
\set VERBOSITY verbose
create table accounts (id serial primary key, owner text not null, balance numeric(12,2),
                       opened date, tags text[], meta jsonb, photo bytea);
\d accounts
insert into accounts (owner, balance, opened, tags, meta, photo) values
  ('ann', 100.50, '2024-01-02', '{a,b}', '{"k": [1, 2]}', '\xdeadbeef'),
  ('bob', null, null, null, null, null),
  ('zoë', -3.25, '1999-12-31', '{}', '{"ü": "ñ"}', '');
select * from accounts order by id;
\pset format aligned
\pset null '(null)'
select owner, balance * 2 as doubled, tags[1], meta->'k' from accounts order by owner;
\pset format unaligned
select id, owner from accounts order by id;
\pset format aligned
select 1/0;
insert into accounts (id, owner) values (1, 'dup');
insert into accounts (owner) values (null);
select no_such_column from accounts;
begin;
update accounts set balance = balance + 1 where owner = 'ann';
savepoint s1;
delete from accounts;
rollback to savepoint s1;
select count(*) from accounts;
commit;
begin;
select 1/0;
select 'ignored while aborted';
rollback;
do $$ begin raise notice 'notice with %', 'argument'; raise warning 'a warning'; end $$;
select owner as "Owner", balance from accounts where owner = 'ann' \gset acct_
\echo :acct_Owner :acct_balance
select format('select %L as generated', owner) from accounts order by id \gexec
prepare by_owner(text) as select id, owner from accounts where owner = $1;
execute by_owner('bob');
deallocate by_owner;
begin;
declare c cursor for select g from generate_series(1, 10) g;
fetch 3 from c;
fetch 2 from c;
close c;
commit;
copy accounts (owner, balance) from stdin;
carol	7.00
dave	\N
\.
\copy (select owner, balance from accounts order by id) to stdout
select md5(string_agg(g::text, ',')) from generate_series(1, 100000) g;
select g, repeat('x', g % 7) from generate_series(1, 25) g;
select 1 as a; select 2 as b;
select pg_typeof(now()) , 'done' as status;
drop table accounts;
drop table accounts;
