//! The typed, streaming parse behind [`super::parse_sum`]: serde visitors
//! that read the few fields the cost code uses, skip the rest unbuilt, and
//! turn each row of `result.data` into a [`SumRow`] as it is read.
//!
//! Netdata writes `points` before `result` and `result.labels` before
//! `result.data`, so the rows' capacity and columns are known when the rows
//! come. An answer in another key order still parses: data seen before its
//! labels is kept as a `Value` until they come (the old cost, only then).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{NetdataSum, SumRow};

/// Rows reserved up front at most, whatever `points` claims: a month of
/// per-minute rows is 43,200.
const MAX_RESERVED_ROWS: usize = 1 << 17;

/// The fields of an answer that [`NetdataSum`] is made of.
#[derive(Debug, Default)]
pub struct Answer {
    first_entry: Option<i64>,
    last_entry: Option<i64>,
    view_update_every: Option<i64>,
    after: Option<i64>,
    before: Option<i64>,
    db_points_per_tier: Vec<u64>,
    result: Option<ResultBody>,
}

#[derive(Debug, Default)]
struct ResultBody {
    labels: Option<Vec<String>>,
    rows: Option<Vec<SumRow>>,
    /// `data` that came before `labels` (not how Netdata writes it).
    early_data: Option<Value>,
}

/// Where the three columns the cost code reads are.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    received: usize,
    sent: usize,
}

impl Columns {
    fn of(labels: &[String]) -> Result<Self, String> {
        let col = |name: &str| labels.iter().position(|l| l == name);
        match (col("time"), col("received"), col("sent")) {
            (Some(time), Some(received), Some(sent)) => Ok(Self {
                time,
                received,
                sent,
            }),
            _ => Err(format!(
                "Netdata's answer lacks time/received/sent columns (has {labels:?}); is this a net.* chart?"
            )),
        }
    }
}

impl Answer {
    /// The checks the `Value` parser made, in its order, on what was read.
    pub fn into_sum(self) -> Result<NetdataSum, String> {
        let result = self
            .result
            .ok_or("Netdata's answer has no `result` (was `jsonwrap` dropped?)")?;
        let labels = result
            .labels
            .ok_or("Netdata's answer has no `result.labels`")?;
        let columns = Columns::of(&labels)?;
        let mut rows = match (result.rows, result.early_data) {
            (Some(rows), _) => rows,
            (None, Some(data)) => rows_of_value(&data, columns)?,
            (None, None) => return Err("Netdata's answer has no `result.data` array".into()),
        };
        rows.sort_by_key(|r| r.t);
        Ok(NetdataSum {
            first_entry: self.first_entry,
            last_entry: self.last_entry,
            step: self.view_update_every.unwrap_or(1).max(1),
            after: self.after.unwrap_or(0),
            before: self.before.unwrap_or(0),
            db_points_per_tier: self.db_points_per_tier,
            rows,
        })
    }
}

/// A row from the three cells read from it.
fn row_of(
    time: Option<&Value>,
    received: Option<&Value>,
    sent: Option<&Value>,
) -> Result<SumRow, String> {
    let t = time
        .and_then(Value::as_i64)
        .ok_or("a Netdata row has no integer time (was `seconds` dropped?)")?;
    let cell = |v: Option<&Value>| -> Result<Option<f64>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|x| Some(x.abs()))
                .ok_or_else(|| format!("a Netdata value at {t} is not a number: {v}")),
        }
    };
    Ok(SumRow {
        t,
        received: cell(received)?,
        sent: cell(sent)?,
    })
}

/// Rows from `data` held as a `Value` (only when it came before `labels`).
fn rows_of_value(data: &Value, columns: Columns) -> Result<Vec<SumRow>, String> {
    let data = data
        .as_array()
        .ok_or("Netdata's answer has no `result.data` array")?;
    data.iter()
        .map(|row| {
            let cells = row.as_array().ok_or("a Netdata row is not an array")?;
            row_of(
                cells.get(columns.time),
                cells.get(columns.received),
                cells.get(columns.sent),
            )
        })
        .collect()
}

/// A scalar kept only when it is an integer (as `Value::as_i64` would).
fn lenient_i64<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<i64>, A::Error> {
    Ok(map.next_value::<Value>()?.as_i64())
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    FirstEntry,
    LastEntry,
    ViewUpdateEvery,
    After,
    Before,
    DbPointsPerTier,
    Points,
    Result,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AnswerVisitor)
    }
}

struct AnswerVisitor;

impl<'de> Visitor<'de> for AnswerVisitor {
    type Value = Answer;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Netdata data answer (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answer, A::Error> {
        let mut answer = Answer::default();
        let mut points = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::FirstEntry => answer.first_entry = lenient_i64(&mut map)?,
                Field::LastEntry => answer.last_entry = lenient_i64(&mut map)?,
                Field::ViewUpdateEvery => answer.view_update_every = lenient_i64(&mut map)?,
                Field::After => answer.after = lenient_i64(&mut map)?,
                Field::Before => answer.before = lenient_i64(&mut map)?,
                Field::Points => points = lenient_i64(&mut map)?,
                Field::DbPointsPerTier => {
                    answer.db_points_per_tier = match map.next_value::<Value>()? {
                        Value::Array(items) => items.iter().filter_map(Value::as_u64).collect(),
                        _ => Vec::new(),
                    }
                }
                Field::Result => {
                    let reserve = points
                        .and_then(|p| usize::try_from(p).ok())
                        .unwrap_or(0)
                        .min(MAX_RESERVED_ROWS);
                    answer.result = Some(map.next_value_seed(ResultSeed { reserve })?);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(answer)
    }
}

/// `result`: an object of `labels` and `data` (anything else is an error
/// that says what was expected).
struct ResultSeed {
    reserve: usize,
}

impl<'de> DeserializeSeed<'de> for ResultSeed {
    type Value = ResultBody;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ResultField {
    Labels,
    Data,
    #[serde(other)]
    Other,
}

impl<'de> Visitor<'de> for ResultSeed {
    type Value = ResultBody;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Netdata's `result` object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut body = ResultBody::default();
        while let Some(field) = map.next_key::<ResultField>()? {
            match field {
                ResultField::Labels => {
                    // Non-string labels name no column (as before).
                    let labels: Vec<Value> = map.next_value()?;
                    body.labels = Some(
                        labels
                            .into_iter()
                            .map(|l| match l {
                                Value::String(s) => s,
                                _ => String::new(),
                            })
                            .collect(),
                    );
                }
                ResultField::Data => match &body.labels {
                    Some(labels) => {
                        let columns = Columns::of(labels).map_err(de::Error::custom)?;
                        body.rows = Some(map.next_value_seed(RowsSeed {
                            columns,
                            reserve: self.reserve,
                        })?);
                    }
                    None => body.early_data = Some(map.next_value()?),
                },
                ResultField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
}

/// `result.data`: an array of rows, each made a [`SumRow`] as it is read.
struct RowsSeed {
    columns: Columns,
    reserve: usize,
}

impl<'de> DeserializeSeed<'de> for RowsSeed {
    type Value = Vec<SumRow>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed {
    type Value = Vec<SumRow>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Netdata's `result.data` array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::with_capacity(self.reserve);
        while let Some(row) = seq.next_element_seed(RowSeed(self.columns))? {
            rows.push(row);
        }
        Ok(rows)
    }
}

/// One row: only its time, received and sent cells are kept (as scalars,
/// which a `Value` holds without allocating).
struct RowSeed(Columns);

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = SumRow;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<SumRow, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowSeed {
    type Value = SumRow;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Netdata row (an array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SumRow, A::Error> {
        let Columns {
            time,
            received,
            sent,
        } = self.0;
        let (mut t, mut rx, mut tx) = (None, None, None);
        let mut index = 0;
        loop {
            let wanted = index == time || index == received || index == sent;
            if wanted {
                let Some(cell) = seq.next_element::<Value>()? else {
                    break;
                };
                if index == time {
                    t = Some(cell.clone());
                }
                if index == received {
                    rx = Some(cell.clone());
                }
                if index == sent {
                    tx = Some(cell);
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            index += 1;
        }
        row_of(t.as_ref(), rx.as_ref(), tx.as_ref()).map_err(de::Error::custom)
    }
}
