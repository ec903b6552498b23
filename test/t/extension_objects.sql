-- Every object of the extension gateway in the current database, described
-- by its definition rather than its oid, in a stable order: two installs
-- built differently (created at the default version, or created at an older
-- one and updated) must print the same lines.  Used by test/t/upgrade.sh.
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'gateway'),
member AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rel AS (
    SELECT c.* FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid)
SELECT line FROM (
    -- the extension, and the tables pg_dump saves with the data
    SELECT 'extension: schema ' || e.extnamespace::regnamespace || ', relocatable ' || e.extrelocatable
           || ', config tables ' || coalesce((
               SELECT string_agg(c.t::regclass || ' where ' || coalesce(c.cond, ''), ', ' ORDER BY c.t::regclass::text)
                 FROM unnest(e.extconfig, e.extcondition) AS c(t, cond)), 'none') AS line
      FROM pg_extension e WHERE e.extname = 'gateway'
    UNION ALL
    -- every member, whatever its kind
    SELECT 'member: ' || pg_describe_object(classid, objid, 0) FROM member
    UNION ALL
    SELECT 'schema: ' || n.nspname || ' owner ' || n.nspowner::regrole || ' acl ' || coalesce(n.nspacl::text, '-')
      FROM pg_namespace n JOIN member m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
    UNION ALL
    -- functions: the whole definition, and who may call them
    SELECT 'function: ' || pg_get_functiondef(p.oid) || 'owner ' || p.proowner::regrole
           || ' acl ' || coalesce(p.proacl::text, '-')
      FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
    UNION ALL
    SELECT 'relation: ' || c.oid::regclass || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
           || ' options ' || coalesce(c.reloptions::text, '-')
           || ' row security ' || c.relrowsecurity || '/' || c.relforcerowsecurity
           || ' owner ' || c.relowner::regrole || ' acl ' || coalesce(c.relacl::text, '-')
      FROM rel c
    UNION ALL
    SELECT 'column: ' || c.oid::regclass || '.' || a.attname || ' #' || a.attnum || ' '
           || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
           || coalesce(' identity ' || nullif(a.attidentity::text, ''), '')
           || coalesce(' generated ' || nullif(a.attgenerated::text, ''), '')
           || coalesce(' collate ' || nullif(a.attcollation, 0)::regcollation, '')
           || ' storage ' || a.attstorage::text
           || ' acl ' || coalesce(a.attacl::text, '-')
      FROM rel c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    UNION ALL
    SELECT 'constraint: ' || co.conrelid::regclass || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
           || CASE WHEN co.condeferrable THEN ' deferrable' ELSE '' END
      FROM pg_constraint co WHERE co.conrelid IN (SELECT oid FROM rel)
    UNION ALL
    SELECT 'index: ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i WHERE i.indrelid IN (SELECT oid FROM rel)
    UNION ALL
    SELECT 'trigger: ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
      FROM pg_trigger t WHERE t.tgrelid IN (SELECT oid FROM rel) AND NOT t.tgisinternal
    UNION ALL
    SELECT 'rule: ' || pg_get_ruledef(r.oid)
      FROM pg_rewrite r WHERE r.ev_class IN (SELECT oid FROM rel) AND r.rulename <> '_RETURN'
    UNION ALL
    SELECT 'policy: ' || po.polrelid::regclass || ' ' || po.polname || ' ' || po.polcmd::text
           || ' ' || po.polpermissive || ' ' || po.polroles::regrole[]::text
           || ' using ' || coalesce(pg_get_expr(po.polqual, po.polrelid), '-')
           || ' check ' || coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '-')
      FROM pg_policy po WHERE po.polrelid IN (SELECT oid FROM rel)
    UNION ALL
    SELECT 'view: ' || c.oid::regclass || E'\n' || pg_get_viewdef(c.oid)
      FROM rel c WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'sequence: ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL)
           || ' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin
           || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
           || ' owned by ' || coalesce((
               SELECT d.refobjid::regclass || '.' || a.attname
                 FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-')
      FROM pg_sequence s WHERE s.seqrelid IN (SELECT oid FROM rel)
    UNION ALL
    -- types: enum labels in their order, domains with their base and checks
    SELECT 'type: ' || t.oid::regtype || ' kind ' || t.typtype::text
           || coalesce(' labels ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                        FROM pg_enum e WHERE e.enumtypid = t.oid), '')
           || coalesce(' base ' || nullif(t.typbasetype, 0)::regtype, '')
           || coalesce(' checks ' || (SELECT string_agg(pg_get_constraintdef(co.oid), ' ' ORDER BY co.conname)
                                        FROM pg_constraint co WHERE co.contypid = t.oid), '')
           || ' owner ' || t.typowner::regrole || ' acl ' || coalesce(t.typacl::text, '-')
      FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    UNION ALL
    SELECT 'comment: ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
      FROM pg_description d JOIN member m ON m.classid = d.classoid AND m.objid = d.objoid
) x ORDER BY line;
