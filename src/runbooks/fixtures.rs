//! Runbook texts for tests, snapshots and benches: YAML and TOML front
//! matter, a `console` block, placeholders, a table, a file without steps.

pub const RUNBOOK_RESTART: &str = "---\nhosts: [local, web]\ntags: [docker, restart]\nseverity: high\n---\n# Restart a wedged container\n\nWhen a container stops answering, *look first*, then restart it.\n\n```console\n$ docker ps --filter name=<container>\nCONTAINER ID   IMAGE     STATUS\n$ docker logs --tail 20 <container>\n```\n\nThen restart it and say so:\n\n```sh\ndocker restart <container> && echo restarted ${SERVICE}\n```\n\n| check | expect |\n|-------|--------|\n| `curl -fsS localhost` | 200 |\n| logs | no errors |\n\nSee [the wiki](https://wiki.example/restart) for more.\n";

pub const RUNBOOK_ROLLBACK: &str = "+++\ntags = [\"deploy\", \"rollback\"]\n+++\n# Roll back a deploy\n\n1. Find the previous release:\n\n```bash\nls -1t /srv/releases | head -2\n```\n\n2. Switch the link and restart:\n\n```bash\nln -sfn /srv/releases/<release> /srv/current && systemctl restart app\n```\n";

pub const RUNBOOK_DISK: &str = "# Disk full\n\nResearch notes: **no steps yet**, just `df -h` by hand.\n\n- check `/var/log`\n- check docker images\n";
