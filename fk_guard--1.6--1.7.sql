/* fk_guard--1.6--1.7.sql: bypass tracking and incremental audits (issue 13); repair, pre-load
 * check and load order (issue 14); Citus (issue 15) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fk_guard UPDATE TO '1.7'" to load this file. \quit

-- Every name below resolves in pg_catalog only (see fk_guard--1.7.sql).
SET LOCAL search_path = pg_catalog, pg_temp;

-- ---- Bypass tracking and incremental audits (issue 13) ---------------------

-- (end of bypass tracking)

-- ---- Repair, pre-load check and load order (issue 14) ----------------------

-- (end of repair)

-- ---- Citus (issue 15) -------------------------------------------------------

-- (end of Citus)
