"""A third vendor API, for the kit's own tests only: a tip jar with one resource (a tip) and one
rule (a tip's reference is never used twice). It is registered the way a team's own vendor
package would be, by an entry point, and touches nothing of the kit outside this package."""
