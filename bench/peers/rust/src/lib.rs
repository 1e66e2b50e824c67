//! The calculator both Rust peers share: + - * / % and parentheses over f64, by
//! recursive descent (the SDKs' examples use an evaluator of their language).

/// Evaluate `text`, or say why it is not arithmetic.
pub fn evaluate(text: &str) -> Result<f64, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.sum()?;
    p.skip_spaces();
    if p.i != p.s.len() {
        return Err(format!("unexpected input at {}", p.i));
    }
    Ok(v)
}

/// The reply text for one message, as every calcbot in the comparison writes it.
pub fn answer(expression: &str) -> String {
    match evaluate(expression) {
        Ok(v) => format!("Q: {expression}\nA: {v}"),
        Err(e) => format!("Q: {expression}\nA: Error: {e}"),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.s.get(self.i).copied()
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.primary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.i += 1;
            let r = self.primary()?;
            if op != b'*' && r == 0.0 {
                return Err("division by zero".into());
            }
            v = match op {
                b'*' => v * r,
                b'/' => v / r,
                _ => v % r,
            };
        }
        Ok(v)
    }

    fn primary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let v = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err("unbalanced parentheses".into());
                }
                self.i += 1;
                Ok(v)
            }
            Some(b'-') => {
                self.i += 1;
                Ok(-self.primary()?)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
                {
                    self.i += 1;
                }
                let digits =
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                digits.parse().map_err(|_| format!("bad number {digits}"))
            }
            other => Err(format!("unexpected {:?}", other.map(char::from))),
        }
    }
}
