/** A frame's `data` as JSON; an empty body is an empty object (in every SDK). */
export function jsonOrEmpty(data: string): unknown {
  return data.trim() === "" ? {} : JSON.parse(data);
}
