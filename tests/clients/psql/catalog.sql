-- Describe commands and settings: many catalog queries and session state through the proxy.
\set ON_ERROR_STOP off
create schema shop;
set search_path = shop, public;
create table shop.items (sku text primary key, price int check (price > 0));
create index items_price on shop.items (price);
create view shop.cheap as select * from shop.items where price < 10;
create function shop.double_it(int) returns int language sql immutable as 'select $1 * 2';
insert into items values ('a', 5), ('b', 50);
insert into items values ('c', -1);
\dt shop.*
\d+ shop.items
\dv shop.*
\df shop.*
\di shop.*
select * from cheap;
select shop.double_it(price) from items order by sku;
show search_path;
reset search_path;
show search_path;
set application_name = 'psql-compare';
show application_name;
set statement_timeout = '1ms';
select pg_sleep(0.1);
reset statement_timeout;
\timing off
drop schema shop cascade;
