//! The Claude Code side: the `PreToolUse` input on stdin, the decision as
//! `hookSpecificOutput` on stdout (allow with `updatedInput`) or exit 2 with
//! the reason on stderr (deny), and `--print-settings`.

use serde_json::{Value, json};

use super::reach::{Reach, reaches};
use super::{Context, Decision, TOOL_TIMEOUT_MS, USE_THE_GATE, WAIT_MARGIN};
use crate::gate::policy::shell;
use crate::text::inert;
use crate::transport::shell_quote;
use crate::transport::ssh::resolve::{ResolveOptions, parse_destination, resolve};

/// Longest hook input read (a Bash command is at most a few KiB).
pub const MAX_INPUT: usize = 1 << 20;

/// Decides for one hook input.
pub fn decide(input: &str, ctx: &Context) -> Decision {
    let hook: Value = match serde_json::from_str(input) {
        Ok(v) => v,
        Err(e) => {
            return Decision::Deny(format!("opscockpit hook: the hook input is not JSON ({e})"));
        }
    };
    if hook["tool_name"] != "Bash" {
        return Decision::Passthrough;
    }
    let Some(command) = hook["tool_input"]["command"].as_str() else {
        return Decision::Deny("opscockpit hook: a Bash call without tool_input.command".into());
    };
    let parsed = shell::parse(command);
    let managed: Vec<(Reach, String)> = reaches(&parsed)
        .into_iter()
        .filter_map(|r| managed_alias(&r.destination, ctx).map(|alias| (r, alias)))
        .collect();
    if !parsed.parsed() && mentions_a_remote_tool(command) {
        return Decision::Deny(format!(
            "opscockpit hook: this command could not be parsed ({}), so whether it reaches a managed host cannot be told; {USE_THE_GATE}",
            inert(parsed.error.as_deref().unwrap_or("?"))
        ));
    }
    let Some((reach, alias)) = managed.first().cloned() else {
        return Decision::Passthrough;
    };
    if let Some(why) = &reach.refused {
        return Decision::Deny(format!(
            "opscockpit hook: {} is managed by opscockpit and {why}; {USE_THE_GATE}",
            inert(&alias)
        ));
    }
    if parsed.commands.len() != 1 || managed.len() != 1 {
        return Decision::Deny(format!(
            "opscockpit hook: this command reaches {} as part of a longer command line, which cannot be rewritten faithfully; run the remote part alone, or {USE_THE_GATE}",
            inert(&alias)
        ));
    }
    if !ctx.running.contains(&alias) {
        return Decision::Deny(format!(
            "opscockpit hook: no cockpit is running for {0}: nothing can be proposed. Ask the operator to start `opscockpit {0}`",
            inert(&alias)
        ));
    }
    let Some(remote) = reach.remote else {
        return Decision::Deny(format!(
            "opscockpit hook: nothing to run on {}; {USE_THE_GATE}",
            inert(&alias)
        ));
    };
    let title = hook["tool_input"]["description"]
        .as_str()
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.chars().take(200).collect::<String>())
        .unwrap_or_else(|| format!("claude: {}", remote.chars().take(80).collect::<String>()));
    let wait = TOOL_TIMEOUT_MS / 1000 - WAIT_MARGIN.as_secs();
    let gated = format!(
        "{} propose {} --wait --agent claude --title {} --wait-timeout {wait}s -- {}",
        shell_quote(&ctx.binary.display().to_string()),
        shell_quote(&alias),
        shell_quote(&title),
        shell_quote(&remote)
    );
    let mut updated = hook["tool_input"].clone();
    updated["command"] = json!(gated);
    updated["timeout"] = json!(TOOL_TIMEOUT_MS);
    Decision::Allow {
        updated_input: updated,
        reason: format!(
            "opscockpit: runs on {} through the action gate after the operator approves it",
            inert(&alias)
        ),
    }
}

/// A command that does not parse still must not slip past: one that names
/// a remote tool is denied.
fn mentions_a_remote_tool(command: &str) -> bool {
    ["ssh", "scp", "sftp", "rsync", "docker", "DOCKER_HOST"]
        .iter()
        .any(|tool| command.contains(tool))
}

/// The managed alias `destination` reaches: by name, or because it resolves
/// (like OpenSSH, `ssh -G`) to the same host and port as a managed alias.
fn managed_alias(destination: &str, ctx: &Context) -> Option<String> {
    let dest = parse_destination(destination).ok()?;
    if ctx.managed.contains(&dest.host) {
        return Some(dest.host);
    }
    let endpoint = |name: &str, overrides| {
        resolve(
            name,
            &ResolveOptions {
                overrides,
                ..ResolveOptions::default()
            },
        )
        .ok()
        .map(|r| (r.target.hostname.to_lowercase(), r.target.port))
    };
    let target = endpoint(destination, None)?;
    ctx.managed
        .iter()
        .find(|alias| endpoint(alias, ctx.config.hosts.get(alias.as_str())) == Some(target.clone()))
        .cloned()
}

/// The hook's answer on stdout for an allow.
pub fn allow_output(updated_input: &Value, reason: &str) -> String {
    json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": reason,
            "updatedInput": updated_input,
        }
    })
    .to_string()
}

/// `--print-settings`: the hook and the MCP server for settings.json, and
/// the managed variant the agent cannot remove.
pub fn settings_text(binary: &str) -> String {
    let hook = json!({
        "hooks": {
            "PreToolUse": [{
                "matcher": "Bash",
                "hooks": [{"type": "command", "command": format!("{binary} hook claude"), "timeout": 10}]
            }]
        }
    });
    let managed = json!({
        "allowManagedHooksOnly": true,
        "hooks": hook["hooks"],
    });
    let mcp = json!({"mcpServers": {"opscockpit": {"command": binary, "args": ["mcp"]}}});
    format!(
        "# ~/.claude/settings.json (or .claude/settings.json in the project): the gate hook\n{}\n\n\
         # the MCP server: claude mcp add --scope user opscockpit -- {binary} mcp\n# or .mcp.json:\n{}\n\n\
         # /etc/claude-code/managed-settings.json: the same hook, which the agent cannot remove\n{}\n",
        serde_json::to_string_pretty(&hook).unwrap_or_default(),
        serde_json::to_string_pretty(&mcp).unwrap_or_default(),
        serde_json::to_string_pretty(&managed).unwrap_or_default(),
    )
}
