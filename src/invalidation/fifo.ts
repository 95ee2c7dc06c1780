/** An array-backed FIFO with O(1) amortized shift. */
export class Fifo<T> {
  #items: T[] = []
  #head = 0

  constructor(items: Iterable<T> = []) {
    for (const item of items) this.#items.push(item)
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  peek(): T | undefined {
    return this.#items[this.#head]
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]!
    this.#head++
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }

  toArray(): T[] {
    return this.#items.slice(this.#head)
  }
}
