//! Units and their human-readable rendering. Memory and rates use binary
//! prefixes (KiB, MiB) as `free` and `top` do; network rates can also be shown
//! in bits (Mbit/s) as links are sold; traffic volumes for billing use decimal
//! GB/TB as providers bill (see `cost`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Percent,
    Bytes,
    BytesPerSec,
    /// A byte rate shown in bits per second, as links are sold (network).
    BitsPerSec,
    /// Load average: a plain number with two decimals.
    Load,
    Count,
}

impl Unit {
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Percent => format!("{value:.1}%"),
            Unit::Bytes => human_bytes(value),
            Unit::BytesPerSec => format!("{}/s", human_bytes(value)),
            Unit::BitsPerSec => human_bits_per_sec(value),
            Unit::Load => format!("{value:.2}"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// Binary-prefixed bytes: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut scaled = value.abs();
    let mut unit = 0;
    while scaled >= 1024.0 && unit < UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    let sign = if value < 0.0 { "-" } else { "" };
    if unit == 0 {
        format!("{sign}{scaled:.0} B")
    } else if scaled >= 100.0 {
        format!("{sign}{scaled:.0} {}", UNITS[unit])
    } else {
        format!("{sign}{scaled:.1} {}", UNITS[unit])
    }
}

/// Bits per second with decimal prefixes, from bytes per second:
/// `800 bit/s`, `12.5 Mbit/s`.
pub fn human_bits_per_sec(bytes_per_sec: f64) -> String {
    const UNITS: [&str; 5] = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    let mut scaled = bytes_per_sec.abs() * 8.0;
    let mut unit = 0;
    while scaled >= 1000.0 && unit < UNITS.len() - 1 {
        scaled /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{scaled:.0} {}", UNITS[unit])
    } else {
        format!("{scaled:.1} {}", UNITS[unit])
    }
}

/// Decimal bytes as providers bill traffic: `1.30 TB`, `512.0 GB`.
pub fn human_bytes_decimal(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut scaled = value.abs();
    let mut unit = 0;
    while scaled >= 1000.0 && unit < UNITS.len() - 1 {
        scaled /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{scaled:.0} B")
    } else {
        format!("{scaled:.2} {}", UNITS[unit])
    }
}

/// Compact duration: `42s`, `5m03s`, `3h12m`, `12d04h`.
pub fn human_duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_binary_prefixed() {
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(1023.0), "1023 B");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(3.5 * 1024.0 * 1024.0 * 1024.0), "3.5 GiB");
        assert_eq!(human_bytes(200.0 * 1024.0 * 1024.0), "200 MiB");
    }

    #[test]
    fn bits_are_decimal() {
        assert_eq!(human_bits_per_sec(125_000.0), "1.0 Mbit/s");
        assert_eq!(human_bits_per_sec(10.0), "80 bit/s");
    }

    #[test]
    fn billing_bytes_are_decimal() {
        assert_eq!(human_bytes_decimal(1.3e12), "1.30 TB");
        assert_eq!(human_bytes_decimal(999.0), "999 B");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(303), "5m03s");
        assert_eq!(human_duration(3 * 3600 + 12 * 60), "3h12m");
        assert_eq!(human_duration(12 * 86400 + 4 * 3600), "12d04h");
    }

    #[test]
    fn unit_format() {
        assert_eq!(Unit::Percent.format(12.345), "12.3%");
        assert_eq!(Unit::BytesPerSec.format(2048.0), "2.0 KiB/s");
        assert_eq!(Unit::Load.format(0.5), "0.50");
    }
}
