//! The gate policy against hostile spellings: a destructive command written
//! another way gets the same tier as its plain form (or a stricter one);
//! shipped `auto` rules admit none of their program's write options; text
//! that does not parse is never `auto`; arbitrary input never panics.

use opscockpit::gate::Tier;
use opscockpit::gate::policy::{Evaluation, Policy};

fn defaults() -> Policy {
    Policy::defaults().expect("shipped policy loads")
}

fn explain(e: &Evaluation) -> String {
    format!(
        "tier {:?}, rule {:?} ({:?}), parsed {}, commands {:?}, note {:?}",
        e.tier, e.rule, e.rule_origin, e.parsed, e.commands, e.note
    )
}

/// (disguised, plain): the disguised form must be at least as strict.
const DISGUISED: &[(&str, &str)] = &[
    // Path-qualified, escaped and quoted program names.
    ("/bin/rm -rf /", "rm -rf /"),
    ("/usr/bin/rm -rf /", "rm -rf /"),
    ("./rm -rf /", "rm -rf /"),
    ("\\rm -rf /", "rm -rf /"),
    ("\"rm\" -rf /", "rm -rf /"),
    ("'rm' -rf /", "rm -rf /"),
    ("r\"m\" -rf /", "rm -rf /"),
    ("$'\\x72\\x6d' -rf /", "rm -rf /"),
    ("$'\\162m' -rf /", "rm -rf /"),
    // Long options, split, combined and abbreviated flags, odd paths.
    ("rm --recursive --force /", "rm -rf /"),
    ("rm -r -f /", "rm -rf /"),
    ("rm -fr /", "rm -rf /"),
    ("rm -Rf /", "rm -rf /"),
    ("rm -vfR /", "rm -rf /"),
    ("rm --rec --force /", "rm -rf /"),
    ("rm --recursive=x /", "rm -rf /"),
    ("rm -rf -- /", "rm -rf /"),
    ("rm -rf //", "rm -rf /"),
    ("rm -rf /usr/..", "rm -rf /"),
    ("rm -rf /./", "rm -rf /"),
    ("rm -rf \"/\"", "rm -rf /"),
    ("rm -rf /*", "rm -rf /"),
    ("rm / -rf", "rm -rf /"),
    ("rm -rf --no-preserve-root /", "rm -rf /"),
    ("rm -rf /etc/", "rm -rf /etc"),
    ("/bin/rm --recursive /etc/.", "rm -rf /etc"),
    ("rm -rf '/var/'", "rm -rf /var"),
    // Wrappers, one at a time and nested.
    ("sudo rm -rf /", "rm -rf /"),
    ("sudo -u root rm -rf /", "rm -rf /"),
    ("sudo -uroot rm -rf /", "rm -rf /"),
    ("sudo --user=root -E -H -- rm -rf /", "rm -rf /"),
    ("sudo -s rm -rf /", "rm -rf /"),
    ("doas rm -rf /", "rm -rf /"),
    ("env rm -rf /", "rm -rf /"),
    ("env -i PATH=/bin rm -rf /", "rm -rf /"),
    ("env -u HOME -- rm -rf /", "rm -rf /"),
    ("env -S 'rm -rf /'", "rm -rf /"),
    ("env -iS 'rm -rf /'", "rm -rf /"),
    ("env --split-string='rm -rf /'", "rm -rf /"),
    ("sudo -nu root rm -rf /", "rm -rf /"),
    ("sudo -Eu root -- rm -rf /", "rm -rf /"),
    ("command rm -rf /", "rm -rf /"),
    ("builtin exec rm -rf /", "rm -rf /"),
    ("exec -a x rm -rf /", "rm -rf /"),
    ("nice rm -rf /", "rm -rf /"),
    ("nice -n 10 rm -rf /", "rm -rf /"),
    ("nice --adjustment=5 rm -rf /", "rm -rf /"),
    ("nohup rm -rf /", "rm -rf /"),
    ("timeout 10 rm -rf /", "rm -rf /"),
    ("timeout -s KILL -k 5 5m rm -rf /", "rm -rf /"),
    ("stdbuf -oL rm -rf /", "rm -rf /"),
    ("stdbuf -o L -e0 rm -rf /", "rm -rf /"),
    ("ionice -c 3 rm -rf /", "rm -rf /"),
    ("ionice -c2 -n7 rm -rf /", "rm -rf /"),
    ("chroot / rm -rf /", "rm -rf /"),
    ("chroot --userspec=0:0 /mnt rm -rf /", "rm -rf /"),
    ("busybox rm -rf /", "rm -rf /"),
    ("time rm -rf /", "rm -rf /"),
    ("/usr/bin/time -v rm -rf /", "rm -rf /"),
    ("setsid rm -rf /", "rm -rf /"),
    (
        "sudo nice -n 5 timeout 10 env A=1 nohup ionice -c3 stdbuf -oL rm -rf /",
        "rm -rf /",
    ),
    ("sudo busybox env rm -rf /", "rm -rf /"),
    (
        "sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo sudo rm -rf /",
        "rm -rf /",
    ),
    // Command strings.
    ("sh -c 'rm -rf /'", "rm -rf /"),
    ("bash -c \"rm -rf /\"", "rm -rf /"),
    ("dash -c 'rm -rf /'", "rm -rf /"),
    ("zsh -c 'rm -rf /'", "rm -rf /"),
    ("/bin/bash -lc 'rm -rf /'", "rm -rf /"),
    ("bash -e -o pipefail -c 'rm -rf /'", "rm -rf /"),
    ("sh -c \"bash -c 'rm -rf /'\"", "rm -rf /"),
    ("sh -c \"sudo sh -c \\\"rm -rf /\\\"\"", "rm -rf /"),
    ("sudo sh -c 'cd /tmp && rm -rf /'", "rm -rf /"),
    ("su -c 'rm -rf /'", "rm -rf /"),
    ("su - root -c 'rm -rf /'", "rm -rf /"),
    ("eval rm -rf /", "rm -rf /"),
    ("eval 'rm -rf /'", "rm -rf /"),
    ("eval \"sudo rm -rf /\"", "rm -rf /"),
    ("bash <<< 'rm -rf /'", "rm -rf /"),
    ("echo 'rm -rf /' | sh", "rm -rf /"),
    ("printf 'rm -rf /' | sudo bash -s", "rm -rf /"),
    ("watch rm -rf /", "rm -rf /"),
    ("watch -n 1 'rm -rf /'", "rm -rf /"),
    ("watch -x rm -rf /", "rm -rf /"),
    ("flock /tmp/lock rm -rf /", "rm -rf /"),
    ("flock -w 5 /tmp/lock -c 'rm -rf /'", "rm -rf /"),
    ("taskset -c 0 rm -rf /", "rm -rf /"),
    ("chrt -f 10 rm -rf /", "rm -rf /"),
    ("strace -f rm -rf /", "rm -rf /"),
    ("unbuffer rm -rf /", "rm -rf /"),
    ("sh <<'EOF'\nrm -rf /\nEOF", "rm -rf /"),
    // Line continuations and substitutions.
    ("rm \\\n -rf /", "rm -rf /"),
    ("rm -r\\\nf /", "rm -rf /"),
    ("echo $(rm -rf /)", "rm -rf /"),
    ("echo \"$(rm -rf /)\"", "rm -rf /"),
    ("echo `rm -rf /`", "rm -rf /"),
    ("x=$(rm -rf /)", "rm -rf /"),
    ("echo $(echo $(rm -rf /))", "rm -rf /"),
    ("echo $(( $(rm -rf /) + 1 ))", "rm -rf /"),
    ("cat <(rm -rf /)", "rm -rf /"),
    ("cat <<< \"$(rm -rf /)\"", "rm -rf /"),
    // Lists, pipelines, subshells, groups, control flow.
    ("true; rm -rf /", "rm -rf /"),
    ("true && rm -rf /", "rm -rf /"),
    ("false || rm -rf /", "rm -rf /"),
    ("echo | rm -rf /", "rm -rf /"),
    ("uptime\nrm -rf /", "rm -rf /"),
    ("(rm -rf /)", "rm -rf /"),
    ("( (rm -rf /) )", "rm -rf /"),
    ("{ rm -rf /; }", "rm -rf /"),
    ("! rm -rf /", "rm -rf /"),
    ("rm -rf / &", "rm -rf /"),
    ("if true; then rm -rf /; fi", "rm -rf /"),
    ("for i in 1; do rm -rf /; done", "rm -rf /"),
    ("while true; do rm -rf /; break; done", "rm -rf /"),
    ("case x in x) rm -rf /;; esac", "rm -rf /"),
    ("f() { rm -rf /; }; f", "rm -rf /"),
    ("coproc rm -rf /", "rm -rf /"),
    // Redirections and environment in front.
    ("rm -rf / > /dev/null 2>&1", "rm -rf /"),
    ("rm -rf / 2>/tmp/log", "rm -rf /"),
    ("rm -rf / < /dev/null", "rm -rf /"),
    ("FOO=1 rm -rf /", "rm -rf /"),
    ("LANG=C sudo rm -rf /", "rm -rf /"),
    ("PATH=/tmp:$PATH rm -rf /", "rm -rf /"),
    // Brace expansion.
    ("{rm,-rf,/}", "rm -rf /"),
    ("rm -rf {/,/tmp/x}", "rm -rf /"),
    ("{sudo,rm} -rf /", "rm -rf /"),
    ("rm -r{f,} /", "rm -rf /"),
    // Programs only known at run time.
    ("$X rm -rf /", "rm -rf /"),
    ("${CMD} rm -rf /", "rm -rf /"),
    ("$(echo) rm -rf /", "rm -rf /"),
    // Arguments from elsewhere, and find.
    ("echo / | xargs rm -rf", "rm -rf x"),
    ("xargs -0 -n 1 rm -rf < list", "rm -rf x"),
    ("find . -delete", "rm -r ."),
    ("find / -name x -delete", "rm -r ."),
    ("find / -exec rm -rf {} \\;", "rm -rf x"),
    ("find . -execdir sh -c 'rm -rf /' \\;", "rm -rf /"),
    // Other destructive commands.
    ("/sbin/mkfs.ext4 /dev/sda1", "mkfs.ext4 /dev/sda1"),
    ("sudo mkfs -t ext4 /dev/sdb", "mkfs.ext4 /dev/sda1"),
    (
        "sudo dd of=/dev/sda if=/dev/zero",
        "dd if=/dev/zero of=/dev/sda",
    ),
    ("/sbin/reboot", "reboot"),
    ("sudo systemctl reboot", "reboot"),
    ("systemctl --force reboot", "reboot"),
    ("sh -c 'shutdown -h now'", "reboot"),
    ("iptables --flush", "iptables -F"),
    ("sudo iptables -t nat -F", "iptables -F"),
    ("/usr/bin/docker system prune -af", "docker system prune -a"),
    (
        "docker system prune --all --force",
        "docker system prune -a",
    ),
    (
        "sudo /bin/systemctl restart nginx",
        "systemctl restart nginx",
    ),
    ("docker ps; docker rm -f db", "docker rm -f db"),
    (
        "journalctl -n 10 --vacuum-size=1G",
        "journalctl --vacuum-size=1G",
    ),
    (
        "journalctl -n --vacuum-size=1G",
        "journalctl --vacuum-size=1G",
    ),
    ("journalctl -n 5 --vac=1G", "journalctl --vacuum-size=1G"),
];

#[test]
fn disguised_commands_are_at_least_as_strict_as_their_plain_form() {
    let policy = defaults();
    assert!(DISGUISED.len() >= 60);
    let mut failures = Vec::new();
    for (disguised, plain) in DISGUISED {
        let plain_eval = policy.evaluation("web", plain);
        let eval = policy.evaluation("web", disguised);
        if plain_eval.tier == Tier::Auto {
            failures.push(format!(
                "plain form {plain:?} is auto: {}",
                explain(&plain_eval)
            ));
        }
        if eval.tier < plain_eval.tier {
            failures.push(format!(
                "{disguised:?} is {:?}, its plain form {plain:?} is {:?}\n    saw: {}",
                eval.tier,
                plain_eval.tier,
                explain(&eval)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn plain_forms_have_their_documented_tiers() {
    let policy = defaults();
    for (cmd, tier) in [
        ("rm -rf /", Tier::Deny),
        ("rm -rf /etc", Tier::Deny),
        ("rm -rf /var", Tier::Deny),
        ("mkfs.ext4 /dev/sda1", Tier::Deny),
        ("dd if=/dev/zero of=/dev/sda", Tier::Deny),
        ("rm -rf x", Tier::Confirm),
        ("rm -r .", Tier::Confirm),
        ("reboot", Tier::Confirm),
        ("iptables -F", Tier::Confirm),
        ("docker system prune -a", Tier::Confirm),
        ("systemctl restart nginx", Tier::Approve),
        ("docker rm -f db", Tier::Approve),
        ("journalctl --vacuum-size=1G", Tier::Approve),
    ] {
        let e = policy.evaluation("web", cmd);
        assert_eq!(e.tier, tier, "{cmd}: {}", explain(&e));
    }
}

#[test]
fn what_the_policy_saw_is_reported() {
    let policy = defaults();
    let e = policy.evaluation("web", "sudo -u root /bin/rm --recursive \"/\"");
    assert_eq!(e.tier, Tier::Deny);
    assert_eq!(e.rule.as_deref(), Some("wipe-root"));
    assert!(
        e.rule_origin
            .as_deref()
            .is_some_and(|o| o.contains("policy.default.toml:")),
        "{e:?}"
    );
    assert!(e.parsed);
    assert_eq!(e.commands, vec![vec!["rm", "--recursive", "/"]]);
    assert!(e.reason.is_some());

    let e = policy.evaluation("web", "journalctl -u web -n 50 | grep -i error");
    assert_eq!(e.tier, Tier::Auto, "{}", explain(&e));
    assert_eq!(e.commands.len(), 2);
    assert_eq!(e.note, None);

    let e = policy.evaluation("web", "df -h > /etc/motd");
    assert_eq!(e.tier, Tier::Approve);
    assert_eq!(e.rule.as_deref(), Some("disk-df"));
    assert_eq!(e.rule_label(), "disk-df+redirect");
    assert!(
        e.note.as_deref().is_some_and(|n| n.contains("/etc/motd")),
        "{e:?}"
    );

    let e = policy.evaluation("web", "make deploy");
    assert_eq!((e.tier, e.rule.as_deref()), (Tier::Approve, None));
    assert_eq!(policy.evaluate("web", "make deploy", None).rule, "default");

    // The decision the gate records carries the same.
    let d = policy.evaluate("web", "uptime 'open", None);
    assert_eq!((d.tier, d.parsed), (Tier::Approve, false));
    assert!(d.note.is_some_and(|n| n.contains("did not parse")));
    let d = policy.evaluate("web", "uptime", None);
    assert_eq!((d.tier, d.parsed, d.note), (Tier::Auto, true, None));
}

/// Read commands the shipped rules let run without a human.
#[test]
fn shipped_reads_are_auto() {
    let policy = defaults();
    for cmd in [
        "docker ps",
        "docker ps -a --format '{{.Names}}'",
        "docker images",
        "docker stats --no-stream",
        "docker logs --tail 100 web",
        "docker logs -n 20 -t web",
        "docker version",
        "docker compose ps",
        "systemctl status nginx",
        "systemctl --no-pager status nginx",
        "systemctl is-active nginx",
        "systemctl list-units --failed",
        "journalctl -u nginx -n 100",
        "journalctl -u nginx --lines=100 --no-pager",
        "journalctl -n50 -p err",
        "df -h",
        "du -sh /var/log",
        "du -sh /var/*",
        "lsblk -f",
        "findmnt -l",
        "uptime",
        "free -m",
        "uname -a",
        "hostname",
        "whoami",
        "id",
        "date",
        "date +%s",
        "nproc",
        "who",
        "ip -br a",
        "ip addr show dev eth0",
        "ip route",
        "ss -tlnp",
        "ps",
        "ps aux",
        "ps -ef",
        "ps -eo pid,comm --sort=-%mem",
        "top -bn1",
        "cat /proc/loadavg",
        "cat /proc/meminfo",
        "journalctl -u web -n 200 | grep -i error | tail -n 20",
        "ps aux | sort -k 3 -n -r | head -n 5",
        "docker ps && df -h",
        "uptime 2>/dev/null",
        "df -h 2>&1",
        "ls -la /var/log",
        "ls -lhS --sort=size /srv",
        "/bin/df -h",
        "/usr/bin/uptime",
        "sudo df -h",
        "timeout 5 journalctl -u web -n 20",
    ] {
        let e = policy.evaluation("web", cmd);
        assert_eq!(e.tier, Tier::Auto, "{cmd}: {}", explain(&e));
    }
}

/// For every program with a shipped `auto` rule: its documented write,
/// delete, rotate and output-file options (option names from the man
/// pages cited), subcommands that are not listed, and reads that can
/// print secrets. None may be `auto`.
const NOT_AUTO: &[(&str, &[&str])] = &[
    // docker(1), docker-system-prune(1), docker-logs(1), docker-save(1),
    // docker-compose(1): writes, deletes, runs, follows, secrets.
    (
        "docker",
        &[
            "docker rm web",
            "docker rm -f web",
            "docker container rm web",
            "docker system prune",
            "docker system prune -af",
            "docker image prune -a",
            "docker container prune",
            "docker volume rm data",
            "docker volume prune",
            "docker network prune",
            "docker restart web",
            "docker stop web",
            "docker kill web",
            "docker start web",
            "docker exec web sh",
            "docker run alpine",
            "docker cp web:/etc/passwd /tmp/x",
            "docker update --restart=no web",
            "docker commit web img",
            "docker save -o /tmp/img.tar alpine",
            "docker export -o /tmp/c.tar web",
            "docker image save alpine",
            "docker logs -f web",
            "docker logs --follow --tail 10 web",
            "docker logs web",
            "docker stats",
            "docker inspect web",
            "docker container inspect web",
            "docker compose config",
            "docker compose down",
            "docker compose up -d",
            "docker compose rm -f",
            "docker compose -f other.yml ps",
            "docker -H tcp://10.0.0.1 ps",
            "docker --context prod ps",
            "docker ps --all > /tmp/x",
            "docker ps $X",
        ],
    ),
    // systemctl(1): unit commands that change state; --force, --runtime,
    // --now, --root, --signal, -H/--host, -M; show/cat print Environment=.
    (
        "systemctl",
        &[
            "systemctl restart nginx",
            "systemctl stop nginx",
            "systemctl start nginx",
            "systemctl reload nginx",
            "systemctl enable --now nginx",
            "systemctl disable nginx",
            "systemctl mask nginx",
            "systemctl unmask nginx",
            "systemctl daemon-reload",
            "systemctl kill -s KILL nginx",
            "systemctl kill --signal=KILL nginx",
            "systemctl reset-failed",
            "systemctl set-property nginx CPUQuota=10%",
            "systemctl edit nginx",
            "systemctl set-environment A=1",
            "systemctl import-environment",
            "systemctl isolate rescue.target",
            "systemctl link /tmp/x.service",
            "systemctl revert nginx",
            "systemctl preset nginx",
            "systemctl show nginx",
            "systemctl cat nginx",
            "systemctl status --force nginx",
            "systemctl status --runtime nginx",
            "systemctl status --root=/mnt nginx",
            "systemctl -H prod status nginx",
            "systemctl -M box status nginx",
            "systemctl status nginx; systemctl restart nginx",
            "systemctl",
        ],
    ),
    // journalctl(1): --vacuum-size/-time/-files, --rotate, --flush, --sync,
    // --relinquish-var, --smart-relinquish-var, --setup-keys, --force,
    // --update-catalog, --cursor-file (writes the cursor); -f/--follow
    // never ends; without -n/--lines the output is unbounded.
    (
        "journalctl",
        &[
            "journalctl -n 10 --vacuum-size=1G",
            "journalctl -n 10 --vacuum-size 1G",
            "journalctl -n 10 --vacuum-time=1d",
            "journalctl -n 10 --vacuum-files=2",
            "journalctl -n 10 --rotate",
            "journalctl -n 10 --flush",
            "journalctl -n 10 --sync",
            "journalctl -n 10 --relinquish-var",
            "journalctl -n 10 --smart-relinquish-var",
            "journalctl -n 10 --setup-keys --force",
            "journalctl -n 10 --update-catalog",
            "journalctl -n 10 --cursor-file=/tmp/cursor",
            "journalctl -n 10 -f",
            "journalctl -n 10 --follow",
            "journalctl -n --rotate",
            "journalctl -n10 --rot",
            "journalctl -u nginx",
            "journalctl -n 10 --file=/var/log/other.journal",
            "journalctl -n 10 -D /tmp/j",
            "journalctl -n 10 -M other",
        ],
    ),
    // df(1), du(1), lsblk(8), findmnt(8): no option writes; these read
    // other inputs (--files0-from, -X, -F), never end (--poll) or redirect.
    (
        "df/du/lsblk/findmnt",
        &[
            "du --files0-from=/etc/shadow",
            "du -X /etc/shadow /",
            "findmnt --poll",
            "findmnt -F /etc/shadow",
            "df -h > /etc/motd",
            "du -sh * ",
            "lsblk >> /tmp/x",
        ],
    ),
    // uptime(1), uname(1), whoami(1), nproc(1), id(1), w(1), who(1): no
    // write options; operands, redirections, a wtmp file argument.
    (
        "uptime/uname/whoami/nproc/id/w/who",
        &[
            "uptime > /etc/motd",
            "uname -a >> /tmp/x",
            "whoami | tee /tmp/x",
            "who /var/log/wtmp",
            "nproc; touch /tmp/x",
        ],
    ),
    // ls(1): no option writes; output to a file, a leading-wildcard glob
    // (could expand to an option), --dired is for Emacs (harmless but not
    // listed), operands from a substitution.
    (
        "ls",
        &[
            "ls -la > /tmp/x",
            "ls *",
            "ls --dired",
            "ls $(cat /tmp/list)",
            "ls -la | tee /tmp/x",
        ],
    ),
    // free(1): -s/--seconds and -c/--count repeat (never end / long).
    ("free", &["free -s 1", "free --seconds=1", "free -c 100"]),
    // hostname(1): an operand, -F/--file and -b/--boot set the hostname.
    (
        "hostname",
        &[
            "hostname evil",
            "hostname -F /etc/hostname",
            "hostname --file /tmp/x",
            "hostname -b evil",
        ],
    ),
    // date(1): -s/--set and the MMDDhhmm operand set the clock; -f reads a file.
    (
        "date",
        &[
            "date -s '2020-01-01'",
            "date --set=2020-01-01",
            "date 010112002020",
            "date -f /etc/shadow",
        ],
    ),
    // ip(8): add/del/set/flush/exec change state; -b/-batch and -force run
    // commands from a file; -n/-netns switches namespace.
    (
        "ip",
        &[
            "ip addr add 10.0.0.1/24 dev eth0",
            "ip a add 10.0.0.1/24 dev eth0",
            "ip addr del 10.0.0.1/24 dev eth0",
            "ip link set eth0 down",
            "ip route del default",
            "ip r flush all",
            "ip neigh flush all",
            "ip rule add from all lookup 5",
            "ip -batch /tmp/cmds",
            "ip -b /tmp/cmds",
            "ip -force -batch /tmp/cmds",
            "ip netns exec x sh",
            "ip -n other a",
        ],
    ),
    // ss(8): -K/--kill closes sockets, -D/--diag writes a raw dump to a
    // file, -F/--filter reads a file, -E/--events never ends, -N/--net.
    (
        "ss",
        &[
            "ss -K dst 10.0.0.1",
            "ss --kill",
            "ss -D /tmp/dump",
            "ss --diag=/tmp/dump",
            "ss -F /tmp/filter",
            "ss -E",
            "ss -N other -t",
        ],
    ),
    // ps(1): the BSD `e` modifier prints every process's environment.
    (
        "ps",
        &["ps e", "ps auxe", "ps axe", "ps eww", "ps -ef > /tmp/x"],
    ),
    // top(1): interactive without -b; without -n it never ends.
    ("top", &["top", "top -b", "top -n 1"]),
    // cat(1): any file other than the listed /proc ones may hold secrets.
    (
        "cat",
        &[
            "cat /etc/shadow",
            "cat ~/.ssh/id_rsa",
            "cat /root/.env",
            "cat /proc/self/environ",
            "cat /proc/1/environ",
            "cat /proc/loadavg /etc/shadow",
            "cat /proc/../etc/shadow",
            "cat /proc/loadavg > /tmp/x",
            "cat -v /proc/loadavg",
        ],
    ),
    // grep(1): -r/-R/-d recurse into files, -f reads patterns from a file,
    // file operands read files.
    (
        "grep",
        &[
            "grep -r password /etc",
            "grep -R x .",
            "grep -d recurse x .",
            "grep x /etc/shadow",
            "grep -e x /etc/shadow",
            "grep -f /etc/shadow",
            "grep --include=*.env -r x /",
        ],
    ),
    // head(1), tail(1): -f/-F/--follow never end; file operands read files.
    (
        "head/tail",
        &[
            "tail -f /var/log/syslog",
            "tail -F x",
            "tail --follow x",
            "tail --pid=1 -f x",
            "head /etc/shadow",
            "tail -n 5 /etc/shadow",
        ],
    ),
    // sort(1): -o/--output writes a file, -T/--temporary-directory writes
    // there, --compress-program runs a program, --files0-from reads.
    (
        "sort",
        &[
            "sort -o /etc/passwd",
            "sort --output=/tmp/x",
            "sort -T /tmp",
            "sort --compress-program=sh",
            "sort --files0-from=/tmp/list",
            "sort /etc/shadow",
        ],
    ),
    // uniq(1): the second operand is the OUTPUT file; wc(1), cut(1): file
    // operands and --files0-from read files.
    (
        "uniq/wc/cut",
        &[
            "uniq in out",
            "uniq - /etc/passwd",
            "wc /etc/shadow",
            "wc --files0-from=/tmp/list",
            "cut -d: -f2 /etc/shadow",
        ],
    ),
    // Never listed as auto: they write or print secrets.
    (
        "others",
        &[
            "tee /tmp/x",
            "sed -i s/a/b/ /etc/hosts",
            "sed -n p /etc/shadow",
            "awk '{print}' /etc/shadow",
            "find / -name x",
            "find . -delete",
            "find . -exec cat {} +",
            "find . -fprint /tmp/x",
            "env",
            "printenv",
            "echo hi",
            "FOO=1 uptime",
            "env FOO=1 uptime",
            "$X",
            "uptime &",
            "sh -c uptime | sh",
            "echo uptime | sh",
            "{uptime,reboot}",
            "uptime {1..100}",
            "/tmp/x/df -h",
            "./uptime",
            "bin/ps aux",
            "flock /tmp/l uptime",
        ],
    ),
];

/// Every program a shipped `auto` rule names has its row in `NOT_AUTO`.
#[test]
fn every_auto_program_has_its_write_options_listed() {
    let policy = defaults();
    let listed: Vec<&str> = NOT_AUTO.iter().flat_map(|(p, _)| p.split('/')).collect();
    let auto_rules: Vec<_> = policy
        .rules()
        .iter()
        .filter(|r| r.tier == Tier::Auto)
        .collect();
    assert!(auto_rules.len() > 10);
    for rule in auto_rules {
        assert!(
            !rule.programs().is_empty(),
            "{}: auto rules name programs",
            rule.name
        );
        for program in rule.programs() {
            assert!(
                listed.contains(&program.as_str()),
                "{}: {program} has no write options listed in NOT_AUTO",
                rule.name
            );
        }
    }
}

#[test]
fn auto_rules_admit_no_write_options() {
    let policy = defaults();
    let mut failures = Vec::new();
    for (program, commands) in NOT_AUTO {
        for cmd in *commands {
            let e = policy.evaluation("web", cmd);
            if e.tier == Tier::Auto {
                failures.push(format!("{program}: {cmd:?} is auto: {}", explain(&e)));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn unparseable_input_is_at_least_approve() {
    let policy = defaults();
    let long = format!("ls {}", "a".repeat(64 * 1024));
    let nested = format!("{}ls{}", "(".repeat(10_000), ")".repeat(10_000));
    let deep = (0..20).fold("uptime".to_string(), |acc, _| format!("echo $({acc})"));
    let deep_eval = format!("{}uptime", "eval ".repeat(20));
    for cmd in [
        "ls 'unbalanced",
        "echo \"unbalanced",
        "echo $(uptime",
        "echo `uptime",
        "uptime\0; rm -rf /",
        "if then fi",
        "uptime |",
        "uptime &&",
        ") uptime (",
        "for do done",
        "sh -c 'uptime \"'",
        "bash -c \"eval 'ls\"",
        long.as_str(),
        nested.as_str(),
        deep.as_str(),
        deep_eval.as_str(),
    ] {
        let e = policy.evaluation("web", cmd);
        let shown = cmd.get(..60).unwrap_or(cmd);
        assert!(!e.parsed, "{shown:?} parsed: {}", explain(&e));
        assert!(e.tier >= Tier::Approve, "{shown:?}: {}", explain(&e));
        assert!(
            e.note
                .as_deref()
                .is_some_and(|n| n.contains("did not parse")),
            "{shown:?}: {}",
            explain(&e)
        );
    }
    // Deny rules still see what parsed, and the text.
    assert_eq!(
        policy.evaluation("web", "rm -rf / ; echo 'x").tier,
        Tier::Deny
    );
    assert_eq!(
        policy.evaluation("web", "sh -c 'rm -rf /'; echo \"").tier,
        Tier::Deny
    );
}

#[test]
fn user_text_rules_still_work() {
    let policy = Policy::from_str_with_defaults(
        "policy.toml",
        "[[rules]]\nname = \"script\"\ntier = \"auto\"\nglob = \"sh */act.sh\"\n\
         [[rules]]\nname = \"no-curl\"\ntier = \"deny\"\nregex = 'curl\\s.*'\n",
    )
    .expect("policy");
    assert_eq!(
        policy.evaluation("box", "sh /tmp/x/act.sh").tier,
        Tier::Auto
    );
    assert_eq!(
        policy.evaluation("box", "sh /tmp/x/act.sh > /tmp/o").tier,
        Tier::Approve
    );
    assert_eq!(
        policy
            .evaluation("box", "uptime && sudo curl http://x")
            .tier,
        Tier::Deny
    );
}

#[test]
fn user_program_rules_and_tables() {
    let policy = Policy::from_str_with_defaults(
        "policy.toml",
        "[programs.kubectl]\nvalues = [\"-n\", \"--namespace\"]\naliases = [[\"-n\", \"--namespace\"]]\n\
         [[rules]]\nname = \"k-get\"\ntier = \"auto\"\nprogram = \"kubectl\"\nsubcommands = [\"get\"]\nallow_options = [\"-n\"]\n",
    )
    .expect("policy");
    assert_eq!(
        policy
            .evaluation("box", "kubectl --namespace prod get pods")
            .tier,
        Tier::Auto
    );
    assert_eq!(
        policy
            .evaluation("box", "kubectl -n prod delete pods x")
            .tier,
        Tier::Approve
    );
    assert_eq!(
        policy.evaluation("box", "kubectl get pods -o yaml").tier,
        Tier::Approve
    );
    // An auto program rule must be an allow-list.
    let err = Policy::from_str_with_defaults(
        "/x/policy.toml",
        "[[rules]]\ntier = \"auto\"\nprogram = \"kubectl\"\n",
    )
    .expect_err("no allow-list");
    assert_eq!(err.line, Some(3), "{err}");
    assert!(err.to_string().contains("allow_options"), "{err}");
    let err = Policy::from_str_with_defaults(
        "/x/policy.toml",
        "[[rules]]\ntier = \"deny\"\nglob = \"x\"\noptions = [\"-r\"]\n",
    )
    .expect_err("options without program");
    assert!(err.to_string().contains("needs `program`"), "{err}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn allow_everything() -> Policy {
        Policy::from_str_with_defaults(
            "policy.toml",
            "include_defaults = false\n[[rules]]\nname = \"all\"\ntier = \"auto\"\nglob = \"*\"\n",
        )
        .expect("policy")
    }

    /// Shell-flavoured text: operators, quotes, substitutions, wrappers.
    fn shellish() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "rm",
            ",",
            "..",
            "1",
            "-9223372036854775808",
            "9223372036854775807",
            "{a..z}",
            "{1..3..-9223372036854775808}",
            "watch",
            "flock",
            "find",
            "-exec",
            "\\;",
            "echo",
            "printf",
            "-rf",
            "/",
            "sudo",
            "sh",
            "-c",
            "bash",
            "eval",
            "env",
            "A=1",
            "xargs",
            "'",
            "\"",
            "`",
            "$(",
            ")",
            "(",
            "{",
            "}",
            ";",
            "&&",
            "||",
            "|",
            "&",
            ">",
            ">>",
            "<",
            "<<<",
            "<<",
            "EOF",
            "\\",
            "\n",
            " ",
            "$X",
            "${Y}",
            "$'\\x72'",
            "*",
            "uptime",
            "-n",
            "--lines=5",
            "journalctl",
            "if",
            "then",
            "fi",
            "for",
            "do",
            "done",
            "!",
            "#",
            "~",
            "=",
            "\0",
        ]);
        prop::collection::vec(atoms, 0..24).prop_map(|v| v.join(""))
    }

    /// Built once: loading a policy compiles its patterns.
    fn policies() -> &'static (Policy, Policy) {
        static POLICIES: std::sync::OnceLock<(Policy, Policy)> = std::sync::OnceLock::new();
        POLICIES.get_or_init(|| (defaults(), allow_everything()))
    }

    fn check_both(text: &str) -> Result<(), TestCaseError> {
        let (shipped, everything) = policies();
        check(shipped, text)?;
        check(everything, text)
    }

    fn check(policy: &Policy, text: &str) -> Result<(), TestCaseError> {
        let e = policy.evaluation("web", text);
        prop_assert!(
            e.tier != Tier::Auto || e.parsed,
            "{text:?} is auto but did not parse: {}",
            explain(&e)
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics_and_is_auto_only_if_parsed(text in any::<String>()) {
            check_both(&text)?;
        }

        #[test]
        fn shellish_text_never_panics_and_is_auto_only_if_parsed(text in shellish()) {
            check_both(&text)?;
        }
    }
}
