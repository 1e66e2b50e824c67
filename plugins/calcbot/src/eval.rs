//! A small arithmetic evaluator with Python 3's semantics for numbers.
//!
//! No expression crate on crates.io gives Python's results (`7/2 == 3.5` but
//! `2**10 == 1024` as an integer, floor division and modulo that round toward
//! negative infinity, `repr`-style float output), so this is a recursive-descent
//! parser over exactly this grammar, lowest precedence first:
//!
//! ```text
//! expr  := term (('+' | '-') term)*
//! term  := unary (('*' | '/' | '//' | '%') unary)*
//! unary := ('-' | '+') unary | power
//! power := atom ('**' unary)?          right-associative; `-2**2 == -4`, `2**-1 == 0.5`
//! atom  := number | '(' expr ')'
//! ```
//!
//! Integers are exact up to `i128`; a result beyond that is an error rather than a
//! silently rounded float. Input length and nesting depth are bounded so no input
//! can exhaust the plugin's stack.

use std::fmt;

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 1024;
/// Deepest nesting of parentheses and unary signs.
pub const MAX_DEPTH: usize = 64;

/// A number: Python's int or float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An exact integer.
    Int(i128),
    /// A double.
    Float(f64),
}

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// Nothing to evaluate.
    Empty,
    /// Longer than [`MAX_LEN`].
    TooLong,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A character that is not part of arithmetic.
    UnexpectedChar(char, usize),
    /// The expression stopped early.
    UnexpectedEnd,
    /// A token where it does not belong.
    UnexpectedToken(String, usize),
    /// A malformed number literal.
    BadNumber(String),
    /// Division, floor division or modulo by zero (Python's message).
    ZeroDivision(&'static str),
    /// An integer result outside the exact range.
    IntegerOverflow,
    /// A float result that is infinite.
    FloatOverflow,
    /// `0 ** negative`.
    ZeroToNegativePower,
    /// A negative number to a fractional power (a complex result).
    ComplexResult,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Empty => write!(f, "empty expression"),
            EvalError::TooLong => write!(f, "expression longer than {MAX_LEN} characters"),
            EvalError::TooDeep => write!(f, "expression nested deeper than {MAX_DEPTH} levels"),
            EvalError::UnexpectedChar(c, at) => {
                write!(f, "invalid character {c:?} at position {}", at + 1)
            }
            EvalError::UnexpectedEnd => write!(f, "unexpected end of expression"),
            EvalError::UnexpectedToken(t, at) => {
                write!(f, "unexpected {t:?} at position {}", at + 1)
            }
            EvalError::BadNumber(n) => write!(f, "invalid number {n:?}"),
            EvalError::ZeroDivision(m) => write!(f, "{m}"),
            EvalError::IntegerOverflow => write!(f, "integer result too large"),
            EvalError::FloatOverflow => write!(f, "numerical result out of range"),
            EvalError::ZeroToNegativePower => {
                write!(f, "0.0 cannot be raised to a negative power")
            }
            EvalError::ComplexResult => write!(f, "result is a complex number"),
        }
    }
}

impl std::error::Error for EvalError {}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{}", float_repr(x)),
        }
    }
}

/// Evaluate `input` (already trimmed by the caller or not; whitespace is ignored).
pub fn evaluate(input: &str) -> Result<Num, EvalError> {
    if input.len() > MAX_LEN {
        return Err(EvalError::TooLong);
    }
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(EvalError::Empty);
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let value = p.expr()?;
    match p.tokens.get(p.pos) {
        None => Ok(value),
        Some((tok, at)) => Err(EvalError::UnexpectedToken(tok.text(), *at)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Plus,
    Minus,
    Star,
    Slash,
    DoubleSlash,
    Percent,
    Power,
    Open,
    Close,
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Num(n) => n.to_string(),
            Tok::Plus => "+".into(),
            Tok::Minus => "-".into(),
            Tok::Star => "*".into(),
            Tok::Slash => "/".into(),
            Tok::DoubleSlash => "//".into(),
            Tok::Percent => "%".into(),
            Tok::Power => "**".into(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<(Tok, usize)>, EvalError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let two = |next: char| chars.get(i + 1) == Some(&next);
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '0'..='9' | '.' => {
                let (num, end) = number(&chars, i)?;
                i = end;
                out.push((Tok::Num(num), start));
                continue;
            }
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' if two('*') => {
                i += 1;
                Tok::Power
            }
            '*' => Tok::Star,
            '/' if two('/') => {
                i += 1;
                Tok::DoubleSlash
            }
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '(' => Tok::Open,
            ')' => Tok::Close,
            other => return Err(EvalError::UnexpectedChar(other, start)),
        };
        i += 1;
        out.push((tok, start));
    }
    Ok(out)
}

/// A literal: digits with optional `_` separators, a fraction and an exponent.
fn number(chars: &[char], start: usize) -> Result<(Num, usize), EvalError> {
    let mut i = start;
    let mut is_float = false;
    let digits = |i: &mut usize| {
        while *i < chars.len() && (chars[*i].is_ascii_digit() || chars[*i] == '_') {
            *i += 1;
        }
    };
    digits(&mut i);
    if i < chars.len() && chars[i] == '.' {
        is_float = true;
        i += 1;
        digits(&mut i);
    }
    if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            is_float = true;
            i = j;
            digits(&mut i);
        }
    }
    let text: String = chars[start..i].iter().collect();
    let bad = || EvalError::BadNumber(text.clone());
    if text == "." || text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        return Err(bad());
    }
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let num = if is_float {
        Num::Float(clean.parse().map_err(|_| bad())?)
    } else {
        if clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
            // Python rejects leading zeros in decimal integers ("010").
            return Err(bad());
        }
        Num::Int(clean.parse().map_err(|_| EvalError::IntegerOverflow)?)
    };
    Ok((num, i))
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn next(&mut self) -> Result<(Tok, usize), EvalError> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or(EvalError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(t)
    }

    fn nest<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, EvalError>,
    ) -> Result<T, EvalError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(EvalError::TooDeep);
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn expr(&mut self) -> Result<Num, EvalError> {
        let mut acc = self.term()?;
        while let Some(op @ (Tok::Plus | Tok::Minus)) = self.peek().cloned() {
            self.pos += 1;
            let rhs = self.term()?;
            acc = if op == Tok::Plus {
                add(acc, rhs)?
            } else {
                sub(acc, rhs)?
            };
        }
        Ok(acc)
    }

    fn term(&mut self) -> Result<Num, EvalError> {
        let mut acc = self.unary()?;
        while let Some(op @ (Tok::Star | Tok::Slash | Tok::DoubleSlash | Tok::Percent)) =
            self.peek().cloned()
        {
            self.pos += 1;
            let rhs = self.unary()?;
            acc = match op {
                Tok::Star => mul(acc, rhs)?,
                Tok::Slash => div(acc, rhs)?,
                Tok::DoubleSlash => floor_div(acc, rhs)?,
                _ => modulo(acc, rhs)?,
            };
        }
        Ok(acc)
    }

    fn unary(&mut self) -> Result<Num, EvalError> {
        match self.peek() {
            Some(Tok::Minus) => {
                self.pos += 1;
                let v = self.nest(Self::unary)?;
                neg(v)
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                self.nest(Self::unary)
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Num, EvalError> {
        let base = self.atom()?;
        if self.peek() == Some(&Tok::Power) {
            self.pos += 1;
            let exp = self.nest(Self::unary)?;
            return pow(base, exp);
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Num, EvalError> {
        match self.next()? {
            (Tok::Num(n), _) => Ok(n),
            (Tok::Open, _) => {
                let v = self.nest(Self::expr)?;
                match self.next()? {
                    (Tok::Close, _) => Ok(v),
                    (t, at) => Err(EvalError::UnexpectedToken(t.text(), at)),
                }
            }
            (t, at) => Err(EvalError::UnexpectedToken(t.text(), at)),
        }
    }
}

fn float(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    }
}

fn finite(x: f64) -> Result<Num, EvalError> {
    if x.is_finite() {
        Ok(Num::Float(x))
    } else {
        Err(EvalError::FloatOverflow)
    }
}

fn int_op(
    a: Num,
    b: Num,
    int: impl FnOnce(i128, i128) -> Option<i128>,
    flt: impl FnOnce(f64, f64) -> f64,
) -> Result<Num, EvalError> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int(x, y).map(Num::Int).ok_or(EvalError::IntegerOverflow),
        _ => finite(flt(float(a), float(b))),
    }
}

fn add(a: Num, b: Num) -> Result<Num, EvalError> {
    int_op(a, b, i128::checked_add, |x, y| x + y)
}

fn sub(a: Num, b: Num) -> Result<Num, EvalError> {
    int_op(a, b, i128::checked_sub, |x, y| x - y)
}

fn mul(a: Num, b: Num) -> Result<Num, EvalError> {
    int_op(a, b, i128::checked_mul, |x, y| x * y)
}

fn neg(a: Num) -> Result<Num, EvalError> {
    match a {
        Num::Int(i) => i
            .checked_neg()
            .map(Num::Int)
            .ok_or(EvalError::IntegerOverflow),
        Num::Float(x) => Ok(Num::Float(-x)),
    }
}

fn is_zero(n: Num) -> bool {
    match n {
        Num::Int(i) => i == 0,
        Num::Float(x) => x == 0.0,
    }
}

fn both_int(a: Num, b: Num) -> bool {
    matches!((a, b), (Num::Int(_), Num::Int(_)))
}

fn div(a: Num, b: Num) -> Result<Num, EvalError> {
    if is_zero(b) {
        let m = if both_int(a, b) {
            "division by zero"
        } else {
            "float division by zero"
        };
        return Err(EvalError::ZeroDivision(m));
    }
    finite(float(a) / float(b))
}

fn floor_div(a: Num, b: Num) -> Result<Num, EvalError> {
    if is_zero(b) {
        let m = if both_int(a, b) {
            "integer division or modulo by zero"
        } else {
            "float floor division by zero"
        };
        return Err(EvalError::ZeroDivision(m));
    }
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => {
            let q = x.checked_div(y).ok_or(EvalError::IntegerOverflow)?;
            let adjust = (x % y != 0) && ((x < 0) != (y < 0));
            Ok(Num::Int(if adjust { q - 1 } else { q }))
        }
        _ => {
            let (x, y) = (float(a), float(b));
            finite(((x - py_fmod(x, y)) / y).round())
        }
    }
}

fn modulo(a: Num, b: Num) -> Result<Num, EvalError> {
    if is_zero(b) {
        let m = if both_int(a, b) {
            "integer modulo by zero"
        } else {
            "float modulo"
        };
        return Err(EvalError::ZeroDivision(m));
    }
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => {
            let r = x.checked_rem(y).unwrap_or(0);
            Ok(Num::Int(if r != 0 && ((r < 0) != (y < 0)) {
                r + y
            } else {
                r
            }))
        }
        _ => finite(py_fmod(float(a), float(b))),
    }
}

/// Python's float `%`: the result takes the divisor's sign.
fn py_fmod(x: f64, y: f64) -> f64 {
    let r = x % y;
    if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
        r + y
    } else {
        r
    }
}

fn pow(base: Num, exp: Num) -> Result<Num, EvalError> {
    match (base, exp) {
        (Num::Int(b), Num::Int(e)) if e >= 0 => {
            let e = u32::try_from(e).map_err(|_| EvalError::IntegerOverflow)?;
            b.checked_pow(e)
                .map(Num::Int)
                .ok_or(EvalError::IntegerOverflow)
        }
        _ => {
            let (b, e) = (float(base), float(exp));
            if b == 0.0 && e < 0.0 {
                return Err(EvalError::ZeroToNegativePower);
            }
            if b < 0.0 && e.fract() != 0.0 {
                return Err(EvalError::ComplexResult);
            }
            finite(b.powf(e))
        }
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, in positional form for
/// exponents -4..16 (always with a fractional part) and scientific form otherwise.
fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{x}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        evaluate(s)
            .map(|n| n.to_string())
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        evaluate(s)
            .map(|n| panic!("{s} gave {n}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn integers_stay_exact_and_true_division_gives_floats() {
        assert_eq!(ok("1+2*3"), "7");
        assert_eq!(ok("(1+2)*3"), "9");
        assert_eq!(ok("7/2"), "3.5");
        assert_eq!(ok("4/2"), "2.0");
        assert_eq!(ok("2**10"), "1024");
        assert_eq!(ok("2*(3+4)-5/2"), "11.5");
    }

    #[test]
    fn floor_division_and_modulo_round_toward_negative_infinity() {
        assert_eq!(ok("7//2"), "3");
        assert_eq!(ok("-7//2"), "-4");
        assert_eq!(ok("7//-2"), "-4");
        assert_eq!(ok("-7%3"), "2");
        assert_eq!(ok("7%-3"), "-2");
        assert_eq!(ok("7.5//2"), "3.0");
        assert_eq!(ok("-7.5%2"), "0.5");
    }

    #[test]
    fn power_is_right_associative_and_binds_tighter_than_unary_minus() {
        assert_eq!(ok("2**3**2"), "512");
        assert_eq!(ok("-2**2"), "-4");
        assert_eq!(ok("2**-1"), "0.5");
        assert_eq!(ok("(-8)**2"), "64");
        assert_eq!(ok("--3"), "3");
    }

    #[test]
    fn floats_print_like_python_repr() {
        assert_eq!(ok("0.1+0.2"), "0.30000000000000004");
        assert_eq!(ok("1/3"), "0.3333333333333333");
        assert_eq!(ok("1e16*1.0"), "1e+16");
        assert_eq!(ok("1.5e-5"), "1.5e-05");
        assert_eq!(ok("0.0001"), "0.0001");
        assert_eq!(ok("1e15"), "1000000000000000.0");
        assert_eq!(ok(".5+1_000"), "1000.5");
    }

    #[test]
    fn division_by_zero_uses_pythons_messages() {
        assert_eq!(err("1/0"), "division by zero");
        assert_eq!(err("1.0/0"), "float division by zero");
        assert_eq!(err("1//0"), "integer division or modulo by zero");
        assert_eq!(err("1%0"), "integer modulo by zero");
        assert_eq!(err("0**-1"), "0.0 cannot be raised to a negative power");
    }

    #[test]
    fn anything_but_arithmetic_is_refused() {
        assert_eq!(err(""), "empty expression");
        assert_eq!(err("1+"), "unexpected end of expression");
        assert_eq!(err("foo"), "invalid character 'f' at position 1");
        assert_eq!(
            err("__import__('os')"),
            "invalid character '_' at position 1"
        );
        assert_eq!(err("(1"), "unexpected end of expression");
        assert_eq!(err("1)"), "unexpected \")\" at position 2");
        assert_eq!(err("010"), "invalid number \"010\"");
    }

    #[test]
    fn overflow_and_hostile_nesting_are_errors_not_crashes() {
        assert_eq!(err("2**1000"), "integer result too large");
        assert_eq!(err("10.0**400"), "numerical result out of range");
        assert_eq!(
            err(&"(".repeat(100)),
            "expression nested deeper than 64 levels"
        );
        assert_eq!(
            err(&"-".repeat(100)),
            "expression nested deeper than 64 levels"
        );
        assert_eq!(
            err(&"1+".repeat(600)),
            "expression longer than 1024 characters"
        );
    }
}
